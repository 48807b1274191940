"""The readable side of an export: a Markdown summary in Brazilian Portuguese for the person.

It is rendered from the export's data (`bot.privacy.export.collect`), so it never shows anything the JSON
does not hold. The fixed sentences live in `bot.texts` with every other text a debtor reads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot import texts
from bot.documents import format_cpf
from bot.money import format_brl

_CHANNELS = {"whatsapp": "WhatsApp", "sms": "SMS"}
_DIRECTIONS = {"inbound": "você →", "outbound": "→ você"}
_INVOICE_STATUS = {
    "open": "em aberto",
    "paid": "paga",
    "cancelled": "cancelada",
    "in_agreement": "em acordo",
}
_CASE_KINDS = {"payment_claim": "pagamento informado", "dispute": "contestação"}
_CASE_STATUS = {"open": "em análise", "resolved": "encerrado"}
_OPT_ACTIONS = {"opt_out": "pediu para não receber", "opt_in": "voltou a aceitar"}


def _date(value: str | None) -> str:
    if not value:
        return "-"
    parsed = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return parsed.strftime("%d/%m/%Y %H:%M" if isinstance(parsed, datetime) else "%d/%m/%Y")


def render(data: dict[str, Any]) -> str:
    """The Markdown summary of an export."""
    person = data["person"]
    lines = [f"# {texts.PRIVACY_SUMMARY_TITLE}", "", f"Gerado em {_date(data['generated_at'])} (UTC).", ""]
    lines += [texts.PRIVACY_SUMMARY_INTRO, ""]
    lines += ["## Identificação", ""]
    if person.get("erased_at"):
        lines += [texts.PRIVACY_SUMMARY_ERASED.format(date=_date(person["erased_at"])), ""]
    else:
        phones = ", ".join(p for p in (person["phone"], person["phone_secondary"]) if p)
        lines += [
            f"- Nome: {person['name']}",
            f"- CPF: {format_cpf(person['cpf'])}",
            f"- Telefone(s): {phones}",
            f"- E-mail: {person['email'] or '-'}",
            f"- UF: {person['state'] or '-'}",
            f"- Observações do credor: {person['notes'] or '-'}",
            f"- Segmento definido pelo credor: {person.get('segment') or '-'}",
            "",
        ]
    lines += ["## Credores", ""]
    lines += [
        f"- {c['trade_name'] or c['legal_name']} (CNPJ {c['cnpj']}): {c['contact_channel']}"
        for c in data["creditors"]
    ]
    lines += ["", f"## Faturas ({len(data['invoices'])})", ""]
    for invoice in data["invoices"]:
        status = _INVOICE_STATUS.get(invoice["status"], invoice["status"])
        lines.append(
            f"- {invoice['external_ref']}: {format_brl(invoice['amount_cents'])}, vencimento "
            f"{_date(invoice['due_date'])}, {status}"
        )
    lines += ["", f"## Acordos ({len(data['agreements'])})", ""]
    for agreement in data["agreements"]:
        terms = agreement["terms"] or format_brl(agreement["total_cents"])
        lines.append(f"- {_date(agreement['created_at'])}: {terms}")
    lines += ["", f"## Pagamentos ({len(data['payments'])})", ""]
    lines += [f"- {_date(p['paid_at'])}: {format_brl(p['amount_cents'])}" for p in data["payments"]]
    messages = sum(len(c["messages"]) for c in data["conversations"])
    lines += ["", f"## Conversas ({len(data['conversations'])}, {messages} mensagens)", ""]
    for conversation in data["conversations"]:
        channel = _CHANNELS.get(conversation["channel"], conversation["channel"])
        lines.append(f"### {channel}, {conversation['address']}")
        lines.append("")
        for message in conversation["messages"]:
            body = message["body"] or ("(anexo)" if message["media"] else "(sem texto)")
            lines.append(
                f"- {_date(message['created_at'])} {_DIRECTIONS.get(message['direction'], '')} {body}"
            )
        lines.append("")
    lines += [f"## Pedidos sobre mensagens ({len(data['opt_out_events'])})", ""]
    for event in data["opt_out_events"]:
        action = _OPT_ACTIONS.get(event["action"], event["action"])
        channel = _CHANNELS.get(event["channel"], event["channel"])
        lines.append(f"- {_date(event['created_at'])}: {action} por {channel}")
    lines += ["", f"## Atendimentos ({len(data['cases'])})", ""]
    lines += [
        f"- {_date(c['created_at'])}: {_CASE_KINDS.get(c['kind'], c['kind'])}, "
        f"{_CASE_STATUS.get(c['status'], c['status'])}"
        for c in data["cases"]
    ]
    lines += ["", f"## Lembretes planejados ou enviados: {len(data['reminders'])}", ""]
    lines += [
        texts.PRIVACY_SUMMARY_PURPOSE,
        "",
        texts.PRIVACY_SUMMARY_SHARING,
        "",
        texts.PRIVACY_SUMMARY_RIGHTS,
        "",
    ]
    return "\n".join(lines)
