"""Scrubbing personal data out of error texts before they are logged or stored.

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


def scrub(text: str) -> str:
    """`text` with database-echoed values, bound parameters, phone numbers and CPFs masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
