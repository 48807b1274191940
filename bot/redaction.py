"""Scrubbing personal data out of error texts before they are logged or stored (`scrub`), and masking it
in a debtor's message shown outside the conversation (`mask_message`).

Error texts travel further than the data they describe: a log line, RQ's failed-job registry (kept for
days in Redis), an operator's terminal. PostgreSQL puts the offending values in its error messages
(`DETAIL:  Key (cpf)=(12345678901) already exists.`, `Failing row contains (...)`), Twilio echoes the
phone number it refused, and SQLAlchemy prints bound parameters unless `hide_parameters` is set. These
patterns are masked here; everything else in the text (constraint names, SQL, stack frames) is kept,
because that is what makes an error fixable.
"""

from __future__ import annotations

import re

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PostgreSQL unique / foreign-key violations: keep the column names, mask the values.
    (re.compile(r"(Key \(.*?\)=)\(.*\)(?= already exists| is not present| is still referenced| conflicts)"),
     rf"\1({MASK})"),
    # NOT NULL and CHECK violations print the whole row.
    (re.compile(r"(Failing row contains )\(.*\)"), rf"\1({MASK})"),
    # Bound parameters, should an engine without hide_parameters ever raise.
    (re.compile(r"\[parameters: .*\]"), f"[parameters: {MASK}]"),
    # Phone numbers: E.164 with or without "+" / "whatsapp:", and the (11) 99999-0000 form.
    (re.compile(r"(?<![\w.])\+?\d{10,15}(?![\w.])"), MASK),
    (re.compile(r"\(\d{2}\)\s?\d{4,5}-?\d{4}"), MASK),
    # CPF written with its punctuation (the bare 11 digits are caught above).
    (re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b"), MASK),
)  # fmt: skip


# Amounts: "R$ 1.234,56", "R$50", "1.234,56", "120 reais".
_AMOUNTS: tuple[re.Pattern[str], ...] = (
    re.compile(r"R\$\s?\d[\d.]*(?:,\d{1,2})?", re.IGNORECASE),
    re.compile(r"(?<![\w.,])\d{1,3}(?:\.\d{3})*,\d{2}(?![\w,])"),
    re.compile(r"(?<![\w.,])\d[\d.]*(?:,\d{1,2})?\s?(?:reais|real|conto|contos|pila)\b", re.IGNORECASE),
)

# What a debtor's own message may hold, masked wherever it is shown outside the conversation (the NLU
# inbox, the CLI, training examples written to nlu_data/). Each kind gets its own placeholder, so a
# reviewer still reads "paguei <valor> no pix" and a model still learns from the sentence around it.
# Order matters: the longer codes go before the numbers they contain.
_MESSAGE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    # Pix "copia e cola" (EMV: starts 000201, long) and boleto lines (47-48 digits, dots and spaces).
    (re.compile(r"\b000201\S{20,}"), "<codigo>"),
    (re.compile(r"\b\d{5}[.\s]?\d{5}[\s]*\d{5}[.\s]?\d{6}[\s]*\d{5}[.\s]?\d{6}[\s]*\d[\s]*\d{14}\b"),
     "<codigo>"),
    (re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b"), "<cpf>"),
    (re.compile(r"\b\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}\b"), "<cnpj>"),
    (re.compile(r"(?<![\w.])\+?\(?\d{2}\)?\s?9?\d{4}[-\s]?\d{4}(?![\w.])"), "<telefone>"),
    (re.compile(r"(?<![\w.])\+?55\s?\(?\d{2}\)?\s?9?\d{4}[-\s]?\d{4}(?![\w.])"), "<telefone>"),
    *((pattern, "<valor>") for pattern in _AMOUNTS),
    # Any other run of 6+ digits: a CPF typed bare, a protocol, an account or an invoice number.
    (re.compile(r"(?<!\w)\d(?:[\d.\-/\s]?\d){5,}(?!\w)"), "<numero>"),
)  # fmt: skip


def mask_message(text: str) -> str:
    """A debtor's message with e-mails, Pix and boleto codes, CPFs, CNPJs, phone numbers, amounts and
    long numbers replaced by placeholders (`<cpf>`, `<valor>`, ...): what is shown of it outside the
    conversation."""
    for pattern, replacement in _MESSAGE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_amounts(text: str) -> str:
    """`text` with amounts in reais ("R$ 1.234,56", "1.234,56", "120 reais") replaced by `***`: the log
    filter's safety net (bot.logging_setup), as no log line should carry what a debtor owes."""
    for pattern in _AMOUNTS:
        text = pattern.sub(MASK, text)
    return text


def scrub(text: str) -> str:
    """`text` with database-echoed values, bound parameters, phone numbers and CPFs masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
