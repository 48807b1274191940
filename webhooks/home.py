"""The landing page: a neutral page that tells an anonymous visitor nothing about the portfolio."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The service's name and a neutral message; no counts, no internal addresses, no database query."""
    return render_template("home.html")
