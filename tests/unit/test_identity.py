"""Identity: a number that changes hands learns nothing, verification is the debtor's and expires, wrong
answers are counted across channels and the lock ends, the secondary number always answers the CPF."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from bot import runtime, texts
from bot.agreements import offers
from bot.answers import debts, turns
from bot.config import ConfigError, Settings, load_settings, override
from bot.conversation import chat, contacts, loop
from bot.db import Database
from bot.imports import import_debtors
from bot.models import AgreementOffer, Conversation, Debtor, Message, OfferStatus, utcnow
from bot.rasa.client import BotMessage
from tests.conftest import CPF, PHONE, People
from tests.unit.conftest import FakeRasa, post_message

NEW_PHONE = "+5511912345678"  # the debtor's new mobile
RELATIVE = "+5511955554444"  # a secondary number (often a relative's)
OTHER_CPF = "11144477735"  # the person who got the debtor's old number


def _debt_questions(fake_rasa: FakeRasa) -> None:
    """Every Rasa turn is "quanto devo" answered by the real bot.answers handler (as the action does)."""

    def answer(sender_id: str, _text: str, metadata: dict) -> list[BotMessage]:  # type: ignore[type-arg]
        return [BotMessage(text=r.text) for r in turns.respond(debts.consultar_divida, sender_id, metadata)]

    fake_rasa.answer = answer


@pytest.fixture
def use(settings: Settings, services: runtime.Services, db: Database, fake_rasa: FakeRasa, monkeypatch):  # type: ignore[no-untyped-def]
    """`use(**changes)`: run the webhook, the worker and the actions with these settings."""
    _debt_questions(fake_rasa)
    monkeypatch.setattr("bot.answers.turns.get_database", lambda _url: db)

    def apply(**changes: object) -> Settings:
        chosen = override(settings, **changes)
        services.settings = chosen
        monkeypatch.setattr("bot.answers.turns.get_settings", lambda: chosen)
        return chosen

    return apply


def _say(app: Flask, settings: Settings, services: runtime.Services, body: str, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    """Post a message through the signed webhook, let the worker finish; the texts of its replies."""
    _, form = post_message(app, settings, body, **kwargs)
    with services.database.session() as s:
        conversation_id = s.scalar(
            select(Message.conversation_id).where(Message.provider_sid == form["MessageSid"])
        )
    loop.process_conversation(services, conversation_id)
    return chat.replies_to(services.database, form["MessageSid"], timeout=0).texts


def _held_replies(db: Database, body: str) -> list[str]:
    """The replies to the latest inbound `body` (a request held while the CPF was asked, answered after)."""
    with db.session() as s:
        held = s.scalars(select(Message).where(Message.body == body).order_by(Message.id.desc())).first()
        return list(s.scalars(select(Message.body).where(Message.in_reply_to_id == held.id)))


def _import(tmp_path: Path, db: Database, rows: str) -> None:
    path = tmp_path / "devedores.csv"
    path.write_text("nome;cpf;telefone\n" + rows, encoding="utf-8")
    report = import_debtors(db, path)
    assert report.ok, report.errors


def _shows_debt(replies: list[str]) -> bool:
    return any("R$" in text or "Loja Exemplo" in text for text in replies)


@pytest.mark.parametrize("mode", ["phone", "cpf"])
def test_a_recycled_number_learns_nothing_after_the_debtor_is_reimported_with_a_new_phone(
    mode: str, use, app: Flask, services, db: Database, people: People, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check=mode)
    # The debtor, from their number, learns the debt (in cpf mode after answering the CPF digits).
    if mode == "cpf":
        assert _say(app, settings, services, "quanto devo") == [texts.VERIFY_ASK]
        assert _say(app, settings, services, CPF[:3]) == [texts.verify_ok("Maria")]
        assert _shows_debt(_held_replies(db, "quanto devo"))
    else:
        assert _shows_debt(_say(app, settings, services, "quanto devo"))
    # The creditor re-imports the debtor with a new phone; the old number now belongs to a stranger.
    _import(tmp_path, db, f"Maria da Silva;{CPF};(11) 91234-5678\n")
    stranger = _say(app, settings, services, "quanto devo")
    assert stranger == [texts.UNKNOWN_NUMBER]
    with db.session() as s:
        assert s.scalars(select(Conversation)).one().debtor_id is None


def test_the_old_number_is_linked_to_its_new_owner_who_must_answer_their_own_cpf(
    use, app: Flask, services, db: Database, people: People, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="cpf")
    _say(app, settings, services, "quanto devo")
    _say(app, settings, services, CPF[:3])  # Maria confirmed her number
    _import(tmp_path, db, f"Maria da Silva;{CPF};(11) 91234-5678\nJoão Souza;{OTHER_CPF};(11) 98765-4321\n")
    with db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.debtor.cpf == OTHER_CPF
    assert _say(app, settings, services, "quanto devo") == [texts.VERIFY_ASK]
    assert _say(app, settings, services, CPF[:3]) == [texts.VERIFY_WRONG]  # Maria's digits are not João's


def test_a_link_left_stale_by_a_direct_change_of_phone_reveals_nothing(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="phone")
    assert _shows_debt(_say(app, settings, services, "quanto devo"))
    with db.session() as s:  # changed without the import (e.g. by hand in the database)
        s.get_one(Debtor, people.debtor_id).phone = NEW_PHONE
    assert _say(app, settings, services, "quanto devo") == [texts.UNKNOWN_NUMBER]
    with db.session() as s:
        assert s.scalars(select(Conversation)).one().debtor_id is None  # re-resolved by number


def test_the_whatsapp_id_of_the_old_number_is_cleared_when_the_debtor_gets_a_new_phone(
    use, app: Flask, services, db: Database, people: People, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="phone")
    _say(app, settings, services, "oi")
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).whatsapp_id == PHONE.removeprefix("+")
    _import(tmp_path, db, f"Maria da Silva;{CPF};(11) 91234-5678\n")
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).whatsapp_id is None  # reminders go to the new number


def test_a_whatsapp_message_from_the_secondary_number_does_not_become_the_debtors_whatsapp_id(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="phone")
    with db.session() as s:
        s.get_one(Debtor, people.debtor_id).phone_secondary = RELATIVE
    _say(app, settings, services, "oi", phone=RELATIVE)
    with db.session() as s:
        assert s.scalars(select(Conversation)).one().debtor_id == people.debtor_id
        assert s.get_one(Debtor, people.debtor_id).whatsapp_id is None


@pytest.mark.parametrize("mode", ["phone", "cpf"])
def test_the_secondary_number_gets_personal_data_only_after_the_cpf_check(
    mode: str, use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check=mode)
    with db.session() as s:
        s.get_one(Debtor, people.debtor_id).phone_secondary = RELATIVE
    if mode == "cpf":  # the debtor confirmed their own number: that does not vouch for the relative's
        _say(app, settings, services, "quanto devo")
        _say(app, settings, services, CPF[:3])
    assert _say(app, settings, services, "quanto devo", phone=RELATIVE) == [texts.VERIFY_ASK]
    assert _say(app, settings, services, CPF[:3], phone=RELATIVE) == [texts.verify_ok("Maria")]
    assert _shows_debt(_held_replies(db, "quanto devo"))


def test_a_correct_answer_is_trusted_on_the_same_number_on_every_channel(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="cpf")
    _say(app, settings, services, "quanto devo")
    _say(app, settings, services, CPF[:3])
    assert _shows_debt(_say(app, settings, services, "quanto devo", channel="sms"))


def test_a_correct_answer_expires_after_the_configured_days(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="cpf", identity_verification_days=90)
    _say(app, settings, services, "quanto devo")
    _say(app, settings, services, CPF[:3])
    assert _shows_debt(_say(app, settings, services, "quanto eu devo?"))
    with db.session() as s:
        debtor = s.get_one(Debtor, people.debtor_id)
        debtor.verified_at = utcnow() - timedelta(days=91)
    assert _say(app, settings, services, "qual o valor da dívida?") == [texts.VERIFY_ASK]


def test_wrong_answers_are_counted_per_debtor_across_channels(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="cpf", identity_max_failures=3)
    _say(app, settings, services, "quanto devo")
    assert _say(app, settings, services, "111") == [texts.VERIFY_WRONG]
    assert _say(app, settings, services, "222") == [texts.VERIFY_WRONG]
    # The same person tries on SMS: a fresh conversation, but the third wrong answer is still the third.
    assert _say(app, settings, services, "quanto devo", channel="sms") == [texts.VERIFY_ASK]
    assert _say(app, settings, services, "333", channel="sms") == [texts.VERIFY_LOCKED]
    locked = _say(app, settings, services, "quanto devo")
    assert locked == [texts.VERIFY_LOCKED] and not _shows_debt(locked)


def test_the_lock_ends_hours_after_the_last_wrong_answer(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="cpf", identity_max_failures=3, identity_lock_hours=24)
    _say(app, settings, services, "quanto devo")
    for digits in ("111", "222", "333"):
        _say(app, settings, services, digits)
    assert _say(app, settings, services, CPF[:3]) == [texts.VERIFY_LOCKED]  # not even checked now
    assert _say(app, settings, services, "quanto eu devo?") == [texts.VERIFY_LOCKED]
    with db.session() as s:
        debtor = s.get_one(Debtor, people.debtor_id)
        debtor.verification_failed_at = utcnow() - timedelta(hours=25)
    assert _say(app, settings, services, "qual o valor da dívida?") == [texts.VERIFY_ASK]
    assert _say(app, settings, services, "444") == [texts.VERIFY_WRONG]  # the count started again
    assert _say(app, settings, services, CPF[:3]) == [texts.verify_ok("Maria")]


def test_by_default_a_known_number_answers_the_cpf_question_before_learning_the_debt(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    default = load_settings({"REGUA_ENV": "test", "SECRET_KEY": "test-secret-key-0123456789"})
    assert default.identity_check == "cpf"
    settings = use(identity_check=default.identity_check)
    assert _say(app, settings, services, "quanto devo") == [texts.VERIFY_ASK]


@pytest.mark.parametrize(
    "name, value",
    [("IDENTITY_VERIFICATION_DAYS", "0"), ("IDENTITY_MAX_FAILURES", "muitas"), ("IDENTITY_LOCK_HOURS", "-1")],
)
def test_a_bad_identity_setting_stops_start_up_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"REGUA_ENV": "test", "SECRET_KEY": "test-secret-key-0123456789", name: value})


def test_reresolving_a_debtor_whose_numbers_did_not_change_keeps_everything(
    use, app: Flask, services, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="cpf")
    _say(app, settings, services, "quanto devo")
    _say(app, settings, services, CPF[:3])
    with db.session() as s:
        assert contacts.reresolve(s, [people.debtor_id]) == 0
    assert _shows_debt(_say(app, settings, services, "quanto devo"))


@pytest.mark.parametrize("how", ["reimport", "direct"])
def test_an_open_agreement_offer_is_not_answered_on_a_number_that_changed_hands(
    how: str, use, app: Flask, services, db: Database, people: People, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = use(identity_check="phone")
    _say(app, settings, services, "oi")
    with db.session() as s:
        offer, _ = offers.make_offer(s, s.scalars(select(Conversation)).one(), date.today())
        offer_id = offer.id
    if how == "reimport":
        _import(tmp_path, db, f"Maria da Silva;{CPF};(11) 91234-5678\n")
    else:
        with db.session() as s:
            s.get_one(Debtor, people.debtor_id).phone = NEW_PHONE
    # The stranger picks option 1: no terms, no amounts.
    assert _say(app, settings, services, "1") == [texts.UNKNOWN_NUMBER]
    with db.session() as s:
        assert s.get_one(AgreementOffer, offer_id).status == OfferStatus.EXPIRED
