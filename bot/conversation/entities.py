"""Entities as Rasa returns them, made usable: pieces of one entity joined, values read as money.

Rasa's WhitespaceTokenizer drops symbols such as "$", so "R$ 300" reaches DIET as the tokens "R" and
"300", and DIET sometimes tags them as two `valor` entities instead of one. `merge_adjacent` joins
same-type entities separated only by spaces or punctuation back into the span the debtor typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.money import InvalidAmount, parse_amount

# What may stand between two pieces of one entity: spaces and the symbols the tokenizer drops.
_GLUE = re.compile(r"[\s$.,:/-]*")
_WORDS_FOR_AMOUNTS = {"mil": 1000}


@dataclass(frozen=True)
class Entity:
    """One entity in a message: its type, the text span it covers and its (possibly synonym) value."""

    entity: str
    start: int
    end: int
    value: str


def merge_adjacent(text: str, entities: Iterable[Mapping[str, Any]]) -> list[Entity]:
    """Rasa's entity dicts as `Entity`s, with neighbouring pieces of the same type joined into one.

    A synonym-mapped value (e.g. "6 vezes" -> "6x") is kept when an entity stands alone; a joined entity
    takes the text it spans.
    """
    pieces = sorted(
        (
            Entity(str(e["entity"]), int(e["start"]), int(e["end"]), str(e.get("value", "")))
            for e in entities
            if "start" in e and "end" in e
        ),
        key=lambda e: (e.start, e.end),
    )
    merged: list[Entity] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.entity == piece.entity
            and piece.start >= last.end
            and _GLUE.fullmatch(text[last.end : piece.start])
        ):
            merged[-1] = Entity(last.entity, last.start, piece.end, text[last.start : piece.end])
        else:
            merged.append(piece)
    return merged


def first_value(text: str, entities: Iterable[Mapping[str, Any]], name: str) -> str | None:
    """The value of the first (merged) entity called `name`, or None."""
    return next((e.value for e in merge_adjacent(text, entities) if e.entity == name), None)


def amount_cents(value: str) -> int | None:
    """The amount a `valor` entity means, in centavos ("R$ 300" -> 30000, "200 reais" -> 20000),
    or None when it cannot be read as money (e.g. "mil e duzentos reais")."""
    cleaned = re.sub(r"(?i)\s*(reais|real|conto|contos|pila)\s*$", "", value.strip())
    if cleaned.lower() in _WORDS_FOR_AMOUNTS:
        return _WORDS_FOR_AMOUNTS[cleaned.lower()] * 100
    try:
        return parse_amount(cleaned)
    except InvalidAmount:
        return None
