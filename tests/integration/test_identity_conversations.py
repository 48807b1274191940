"""A number that changes hands, through the real stack (web app, worker, Rasa, action server): the
action server's own process decides from the debtor's current numbers, not from the old link."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot import texts
from bot.imports import import_debtors
from bot.models import Conversation, Debtor
from tests.integration.conftest import Stack, new_debtor, new_mobile, say

pytestmark = pytest.mark.integration


def _debt_shown(stack: Stack, phone: str, body: str) -> list[str]:
    return say(stack, phone, body).texts


def test_after_a_reimport_with_a_new_phone_the_old_number_learns_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    debtor_id, old_phone = new_debtor(stack.database)
    assert "R$ 259,90" in "\n".join(_debt_shown(stack, old_phone, "quanto eu devo?"))
    with stack.database.session() as s:
        debtor = s.get_one(Debtor, debtor_id)
        name, cpf = debtor.name, debtor.cpf
    new_phone = new_mobile()
    path = tmp_path / "devedores.csv"
    path.write_text(f"nome;cpf;telefone\n{name};{cpf};{new_phone}\n", encoding="utf-8")
    assert import_debtors(stack.database, path).updated == 1
    assert _debt_shown(stack, old_phone, "qual o valor da minha divida?") == [texts.UNKNOWN_NUMBER]
    # The debtor, from the new number, is still answered.
    assert "R$ 259,90" in "\n".join(_debt_shown(stack, new_phone, "quanto eu devo?"))


def test_a_link_left_stale_by_a_direct_change_reveals_nothing(stack: Stack) -> None:
    debtor_id, old_phone = new_debtor(stack.database)
    assert "R$ 259,90" in "\n".join(_debt_shown(stack, old_phone, "quanto eu devo?"))
    with stack.database.session() as s:  # the phone changed without the import's re-resolve
        s.get_one(Debtor, debtor_id).phone = new_mobile()
    assert _debt_shown(stack, old_phone, "qual o valor da minha divida?") == [texts.UNKNOWN_NUMBER]
    with stack.database.session() as s:
        linked = s.scalar(select(Conversation.debtor_id).where(Conversation.address == old_phone))
    assert linked is None
