"""The landing page: what this Régua instance holds and where to go next."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from bot.models import Creditor, Debtor, Invoice, InvoiceStatus
from webhooks.extensions import db, settings

bp = Blueprint("home", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """Counts of creditors, debtors and open invoices, and the service's endpoints."""
    session = db.session()
    counts = {
        "credores": session.scalar(select(func.count()).select_from(Creditor)),
        "devedores": session.scalar(select(func.count()).select_from(Debtor)),
        "faturas_abertas": session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.status == InvoiceStatus.OPEN)
        ),
    }
    return render_template("home.html", counts=counts, settings=settings())
