"""What an agent can put in a message: canned replies and the creditor's approved WhatsApp templates, with
their placeholders filled for the conversation's debtor.

Canned replies live in `canned_replies.yml` next to this module (a small, reviewed set; a change is a pull
request, like the default cadence). Templates are the creditors' own: the WhatsApp templates of the
cadence of each creditor the debtor owes (bot.reminders.planner.cadence_for), the same `content_sid` and
variables the régua sends, so only templates Twilio approved for that creditor are offered.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ruamel.yaml import YAML
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.documents import format_cnpj
from bot.models import Conversation, Creditor, Invoice, InvoiceStatus
from bot.money import format_brl
from bot.payments import charges
from bot.reminders.cadence_model import WhatsAppTemplate
from bot.reminders.planner import cadence_for
from bot.reminders.rendering import render_sms, render_whatsapp_variables

CANNED_FILE = Path(__file__).with_name("canned_replies.yml")
# Shown instead of the payment link in previews, so that reading a page never creates a link.
LINK_PREVIEW = "(link de pagamento)"


@dataclass(frozen=True)
class Canned:
    """A canned reply: its id, its title in the menu, its text with placeholders."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class TemplateChoice:
    """An approved WhatsApp template an agent may send: which creditor's, which step it comes from."""

    content_sid: str
    label: str
    template: WhatsAppTemplate
    creditor_id: int

    def variables(self, values: dict[str, str]) -> dict[str, str]:
        """The template's ContentVariables filled with `values`."""
        return render_whatsapp_variables(self.template, values)

    def preview(self, values: dict[str, str]) -> str:
        """What the agent sees before sending (the template's text lives at Twilio): its variables."""
        return " | ".join(self.variables(values).values())


@functools.cache
def canned_replies() -> tuple[Canned, ...]:
    """The canned replies (read once)."""
    rows = YAML(typ="safe").load(CANNED_FILE.read_text(encoding="utf-8")) or []
    return tuple(Canned(str(r["id"]), str(r["title"]), str(r["text"])) for r in rows)


def canned(reply_id: str) -> Canned | None:
    """The canned reply with this id, or None."""
    return next((c for c in canned_replies() if c.id == reply_id), None)


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with its placeholders filled (unknown placeholders raise ValueError, in English)."""
    return render_sms(text, values)


def _creditors(session: Session, conversation: Conversation) -> list[Creditor]:
    """The creditors the debtor owes (open invoices), else every creditor of theirs."""
    if conversation.debtor_id is None:
        return []
    invoices = (
        session.query(Invoice)
        .filter(Invoice.debtor_id == conversation.debtor_id)
        .order_by(Invoice.due_date)
        .all()
    )
    open_first = [i for i in invoices if i.status == InvoiceStatus.OPEN] or invoices
    found: dict[int, Creditor] = {}
    for invoice in open_first:
        found.setdefault(invoice.creditor_id, invoice.creditor)
    return list(found.values())


def values(
    session: Session, settings: Settings, conversation: Conversation, today: date, *, with_link: bool
) -> dict[str, str]:
    """The placeholder values for the conversation's debtor: first name, total open now (updated
    amounts), the oldest due date, its creditor and CNPJ, and (`with_link`) the payment page of the oldest
    charge; LINK_PREVIEW otherwise. A number without a debtor gets neutral words."""
    debtor = conversation.debtor
    if debtor is None:
        return {
            "nome": "",
            "valor": "-",
            "vencimento": "-",
            "data": "-",
            "credor": "",
            "cnpj": "",
            "link": "",
        }
    found = charges.open_charges(session, debtor.id, today, charges.provider_for(settings))
    creditors = _creditors(session, conversation)
    creditor = found[0].creditor if found else (creditors[0] if creditors else None)
    due = found[0].due_date.strftime("%d/%m/%Y") if found else "-"
    link = LINK_PREVIEW
    if with_link and found:
        link = found[0].page_url(session, settings)
    return {
        "nome": debtor.first_name,
        "valor": format_brl(sum(c.amount_cents for c in found)),
        "vencimento": due,
        "data": due,
        "credor": creditor.display_name if creditor else "",
        "cnpj": format_cnpj(creditor.cnpj) if creditor else "",
        "link": link if found else "",
    }


def templates(session: Session, conversation: Conversation) -> list[TemplateChoice]:
    """The approved WhatsApp templates of the debtor's creditors, one per `content_sid`."""
    choices: dict[str, TemplateChoice] = {}
    for creditor in _creditors(session, conversation):
        for step in cadence_for(creditor).steps:
            found = [(step.id, step.whatsapp)]
            found += [(f"{step.id} ({variant.id})", variant.whatsapp) for variant in step.variants]
            for name, template in found:
                if template is not None and template.content_sid not in choices:
                    label = f"{creditor.display_name} · {name}"
                    choices[template.content_sid] = TemplateChoice(
                        template.content_sid, label, template, creditor.id
                    )
    return list(choices.values())
