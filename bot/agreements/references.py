"""An instalment's reference ("A12P3") in payment confirmations and Pix txids, and reading it back."""

from __future__ import annotations

import re

from bot.models import Instalment


def instalment_reference(instalment: Instalment) -> str:
    """The reference of an instalment in payment confirmations and Pix txids: "A12P3"."""
    return f"A{instalment.agreement_id}P{instalment.number}"


def parse_instalment_reference(reference: str) -> tuple[int, int] | None:
    """(agreement id, instalment number) of "A12P3", or None."""
    match = re.fullmatch(r"A(\d+)P(\d+)", reference.strip().upper())
    return (int(match.group(1)), int(match.group(2))) if match else None
