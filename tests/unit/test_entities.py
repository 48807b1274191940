"""Entities from Rasa: pieces joined back together, amounts read as centavos."""

from __future__ import annotations

import pytest

from bot.conversation.entities import Entity, amount_cents, first_value, merge_adjacent

TEXT = "consigo pagar R$ 300 na sexta, pode ser?"


def _e(entity: str, start: int, end: int, value: str | None = None) -> dict:
    return {"entity": entity, "start": start, "end": end, "value": value or TEXT[start:end]}


def test_pieces_of_one_amount_are_joined() -> None:
    entities = [_e("data", 24, 29), _e("valor", 17, 20), _e("valor", 14, 15)]
    assert merge_adjacent(TEXT, entities) == [
        Entity("valor", 14, 20, "R$ 300"),
        Entity("data", 24, 29, "sexta"),
    ]


def test_entities_separated_by_words_stay_apart() -> None:
    text = "posso pagar R$ 100 agora e R$ 100 mes que vem"
    entities = [{"entity": "valor", "start": 12, "end": 18, "value": "R$ 100"}]
    entities.append({"entity": "valor", "start": 27, "end": 33, "value": "R$ 100"})
    assert [e.value for e in merge_adjacent(text, entities)] == ["R$ 100", "R$ 100"]


def test_a_synonym_value_is_kept_when_the_entity_stands_alone() -> None:
    text = "da pra fazer em 6 vezes?"
    entities = [{"entity": "parcelas", "start": 16, "end": 23, "value": "6x"}]
    assert first_value(text, entities, "parcelas") == "6x"
    assert first_value(text, entities, "valor") is None


def test_different_types_are_never_joined() -> None:
    text = "6x 50"
    entities = [_e("parcelas", 0, 2, "6x"), {"entity": "valor", "start": 3, "end": 5, "value": "50"}]
    assert len(merge_adjacent(text, entities)) == 2


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("R$ 300", 30000),
        ("200 reais", 20000),
        ("R$ 1.200,50", 120050),
        ("89,90", 8990),
        ("mil reais", 100000),
    ],
)
def test_amounts_are_read_as_centavos(value: str, cents: int) -> None:
    assert amount_cents(value) == cents


@pytest.mark.parametrize("value", ["mil e duzentos reais", "uns trocados", ""])
def test_unreadable_amounts_are_none(value: str) -> None:
    assert amount_cents(value) is None
