"""The debtor card's services: what it shows (bot.console.card) and its actions (bot.console.card_actions,
bot.console.card_records): who may act, the composer's rules, idempotency, and the bot's own services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.console import card, card_actions, card_records
from bot.console.card_actions import OwnTerms, Submit
from bot.console.card_records import CardError
from bot.db import Database
from bot.models import (
    Agreement,
    AgreementOffer,
    AuditLog,
    Case,
    CaseKind,
    CaseStatus,
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Invoice,
    InvoiceStatus,
    Message,
    OfferStatus,
    OptOutEvent,
    PaymentPromise,
    User,
    utcnow,
)
from bot.people.roles import NotAllowed
from tests.conftest import PHONE, People


def _conversation(
    db: Database, people: People | None, owner: int, *, hours_since_debtor_wrote: float = 0
) -> int:
    """A WhatsApp conversation with the `people` debtor (None: an unknown number) that `owner` has."""
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=PHONE if people else "+5511900000001",
            debtor_id=people.debtor_id if people else None,
            state=ConversationState.WITH_AGENT,
            assigned_user_id=owner,
            last_inbound_at=utcnow() - timedelta(hours=hours_since_debtor_wrote),
        )
        s.add(conversation)
        s.flush()
        return conversation.id


def _agent_messages(db: Database, conversation_id: int) -> list[Message]:
    with db.session() as s:
        rows = s.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.sent_by_user_id.is_not(None))
            .order_by(Message.id)
        ).all()
        s.expunge_all()
        return list(rows)


def _audit(db: Database, action: str) -> list[AuditLog]:
    with db.session() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == action)).all()
        s.expunge_all()
        return list(rows)


def test_the_card_shows_the_masked_cpf_the_channels_and_the_updated_amounts(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        shown = card.load(s, s.get_one(User, team["ana"]), s.get_one(Conversation, conversation_id), utcnow())
    assert shown is not None
    assert shown.name == "Maria da Silva" and shown.cpf == "***.982.247-**"
    assert [(c.label, c.last_digits, c.opted_out) for c in shown.channels] == [
        ("WhatsApp", "4321", False),
        ("SMS", "4321", False),
    ]
    overdue, upcoming = shown.charges
    assert overdue.original_cents == 15990 and overdue.total_cents > 15990  # fine and interest added
    assert upcoming.total_cents == upcoming.original_cents == 20000
    assert shown.options and shown.options[0].instalments == 1
    assert shown.pause is None and shown.promises == [] and shown.pending_offer is None


def test_a_conversation_without_an_identified_debtor_has_no_card(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, None, team["ana"])
    with db.session() as s:
        viewer, conversation = s.get_one(User, team["ana"]), s.get_one(Conversation, conversation_id)
        assert card.load(s, viewer, conversation, utcnow()) is None
        with pytest.raises(CardError, match="não foi identificado"):
            card_records.pause(s, conversation_id, viewer, "")


def test_a_segunda_via_from_the_card_is_the_agent_s_messages_with_the_pix_code_saved_once(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        invoice_id = s.scalar(select(Invoice.id).where(Invoice.external_ref == "F-1"))
    for _ in range(2):  # a double click
        with db.session() as s:
            done = card_actions.send_copy(
                s,
                settings,
                conversation_id,
                s.get_one(User, team["ana"]),
                Submit("n-1"),
                f"invoice-{invoice_id}",
            )
    assert "já tinha sido feita" in done.notice and not done.to_deliver
    sent = _agent_messages(db, conversation_id)
    assert len(sent) == 3  # the summary with the link, the Pix code, the boleto line
    assert sent[0].client_nonce == "n-1" and "Segunda via" in sent[0].body and "/p/" in sent[0].body
    assert sent[1].body.startswith("000201") and sent[2].body.startswith("2379")
    assert {m.sent_by_user_id for m in sent} == {team["ana"]}
    assert [a.actor for a in _audit(db, "card.copy_sent")] == [f"agent:{team['ana']}"]


def test_another_agent_cannot_act_from_the_card_of_a_conversation_they_do_not_own(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        bia = s.get_one(User, team["bia"])
        with pytest.raises(NotAllowed):
            card_actions.record_promise(s, settings, conversation_id, bia, Submit("n-2"), utcnow().date())
        with pytest.raises(NotAllowed):
            card_records.pause(s, conversation_id, bia, "")
        with pytest.raises(NotAllowed):
            card.load(s, bia, s.get_one(Conversation, conversation_id), utcnow())


def test_outside_the_whatsapp_window_an_action_that_sends_text_is_refused_before_anything_changes(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"], hours_since_debtor_wrote=30)
    with db.session() as s, pytest.raises(CardError, match="janela de 24 horas"):
        card_actions.record_promise(
            s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-3"), utcnow().date()
        )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PaymentPromise)) == 0
    assert _agent_messages(db, conversation_id) == []


def test_an_opted_out_channel_gets_nothing_from_the_card(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        done = card_records.opt_out(s, conversation_id, s.get_one(User, team["ana"]), "whatsapp")
    assert "registrado" in done.notice
    with db.session() as s:
        again = card_records.opt_out(s, conversation_id, s.get_one(User, team["ana"]), "whatsapp")
        assert "já estava" in again.notice
        event = s.scalars(select(OptOutEvent)).one()
        assert (event.source, event.address) == ("agent", PHONE)
        assert s.get_one(Debtor, people.debtor_id).whatsapp_opted_out_at is not None
    with db.session() as s, pytest.raises(CardError, match="não receber mensagens"):
        card_actions.propose(s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-4"), 1)
    assert [a.actor for a in _audit(db, "card.opt_out")] == [f"agent:{team['ana']}"]


def test_a_promise_from_the_card_is_recorded_under_the_agent_and_confirmed_with_the_charge(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        day = card.debtor_today(s.get_one(Debtor, people.debtor_id), utcnow()) + timedelta(days=3)
        card_actions.record_promise(
            s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-5"), day
        )
    with db.session() as s:
        promise = s.scalars(select(PaymentPromise)).one()
        assert promise.promised_on == day and promise.created_by == f"agent:{team['ana']}"
        shown = card.load(s, s.get_one(User, team["ana"]), s.get_one(Conversation, conversation_id), utcnow())
        assert shown is not None and shown.promises[0].by_agent
    sent = _agent_messages(db, conversation_id)
    assert f"{day:%d/%m}" in sent[0].body
    assert [a.actor for a in _audit(db, "promise.recorded")] == [f"agent:{team['ana']}"]


def test_a_promise_beyond_the_creditor_s_policy_is_refused(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s, pytest.raises(CardError, match="aceita promessa até"):
        card_actions.record_promise(
            s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-6"),
            utcnow().date() + timedelta(days=60),
        )  # fmt: skip


def test_an_agent_proposes_a_policy_option_and_registers_the_debtor_s_acceptance(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        shown = card.load(s, s.get_one(User, team["ana"]), s.get_one(Conversation, conversation_id), utcnow())
        assert shown is not None
        longest = shown.options[-1]
        card_actions.propose(
            s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-7"), longest.instalments
        )
    with db.session() as s:
        offer = s.scalars(select(AgreementOffer)).one()
        assert offer.status == OfferStatus.CHOSEN
        shown = card.load(s, s.get_one(User, team["ana"]), s.get_one(Conversation, conversation_id), utcnow())
        assert shown is not None and shown.pending_offer is not None
        assert shown.pending_offer.option.instalments == longest.instalments
        offer_id = offer.id
    assert _agent_messages(db, conversation_id)[0].body.startswith("Confirma o acordo?")
    with db.session() as s:
        card_actions.accept(
            s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-8"), offer_id
        )
    with db.session() as s:
        agreement = s.scalars(select(Agreement)).one()
        assert len(agreement.instalments) == longest.instalments
        assert {i.status for i in agreement.invoices} == {InvoiceStatus.IN_AGREEMENT}
        with pytest.raises(CardError, match="não está mais aguardando"):
            card_actions.accept(
                s, settings, conversation_id, s.get_one(User, team["ana"]), Submit("n-9"), offer_id
            )
    assert [a.actor for a in _audit(db, "agreement.created")] == [f"agent:{team['ana']}"]
    closing = _agent_messages(db, conversation_id)[1]
    assert closing.body.startswith(f"Acordo nº {agreement.id} fechado!") and closing.client_nonce == "n-8"


def test_only_a_supervisor_proposes_outside_the_policy_and_only_with_a_reason(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["sil"])
    own = OwnTerms(instalments=12, discount_percent=Decimal("20"), reason="")
    with db.session() as s:
        ana = s.get_one(User, team["ana"])
        with pytest.raises(NotAllowed):  # an agent, even with a reason
            card_actions.propose_outside(
                s,
                settings,
                conversation_id,
                ana,
                Submit("n-10"),
                OwnTerms(12, Decimal("20"), "cliente desempregado"),
            )
        with pytest.raises(CardError, match="motivo"):
            card_actions.propose_outside(
                s, settings, conversation_id, s.get_one(User, team["sil"]), Submit("n-11"), own
            )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AgreementOffer)) == 0
        card_actions.propose_outside(
            s, settings, conversation_id, s.get_one(User, team["sil"]), Submit("n-12"),
            OwnTerms(12, Decimal("20"), "Cliente desempregado, pediu prazo maior"),
        )  # fmt: skip
    with db.session() as s:
        offer = s.scalars(select(AgreementOffer)).one()
        (option,) = offer.options
        assert option["instalments"] == 12 and option["discount_cents"] > 0
    (entry,) = _audit(db, "card.agreement_proposed")
    assert entry.actor == f"agent:{team['sil']}"
    assert entry.details["within_policy"] is False and "desempregado" in entry.details["reason"]


def test_pausing_and_resuming_the_régua_are_audited_and_a_second_click_changes_nothing(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    for _ in range(2):
        with db.session() as s:
            card_records.pause(s, conversation_id, s.get_one(User, team["ana"]), "Vai pagar na sexta")
    with db.session() as s:
        debtor = s.get_one(Debtor, people.debtor_id)
        assert debtor.reminders_paused_by_user_id == team["ana"]
        assert debtor.reminders_pause_note == "Vai pagar na sexta"
        shown = card.load(s, s.get_one(User, team["ana"]), s.get_one(Conversation, conversation_id), utcnow())
        assert shown is not None and shown.pause is not None and shown.pause.by == "Ana Souza"
        card_records.resume(s, conversation_id, s.get_one(User, team["ana"]))
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).reminders_paused_at is None
    assert len(_audit(db, "debtor.reminders_paused")) == 1
    assert len(_audit(db, "debtor.reminders_resumed")) == 1


def test_a_case_is_resolved_from_the_card_only_when_it_is_the_debtor_s(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, team["ana"])
    with db.session() as s:
        other = Debtor(name="Outra Pessoa", cpf="11144477735", phone="+5511911112222")
        s.add(other)
        s.flush()
        mine = Case(kind=CaseKind.DISPUTE, status=CaseStatus.OPEN, debtor_id=people.debtor_id)
        theirs = Case(kind=CaseKind.DISPUTE, status=CaseStatus.OPEN, debtor_id=other.id)
        s.add_all([mine, theirs])
        s.flush()
        ids = mine.id, theirs.id
    with db.session() as s:
        ana = s.get_one(User, team["ana"])
        with pytest.raises(CardError, match="não encontrado"):
            card_records.resolve_case(s, conversation_id, ana, ids[1], "Resolvido", False)
        card_records.resolve_case(s, conversation_id, ana, ids[0], "Cliente mostrou o comprovante", True)
    with db.session() as s:
        assert s.get_one(Case, ids[0]).status == CaseStatus.RESOLVED
        assert s.get_one(Case, ids[1]).status == CaseStatus.OPEN
