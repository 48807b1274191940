"""The régua end to end on the database: planning, the contact window, caps, opt-outs, payments, channel
fallback, provider errors and concurrent dispatchers. Time is frozen with time-machine."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select, update

from bot import optout
from bot.channels import PermanentSendError, RetryableSendError, SendResult
from bot.config import Settings
from bot.db import Database
from bot.delivery import status as delivery_status
from bot.models import (
    Channel,
    Conversation,
    ConversationState,
    Creditor,
    Debtor,
    Invoice,
    InvoiceStatus,
    Message,
    MessageStatus,
    OptOutAction,
    OutboxEntry,
    OutboxStatus,
    utcnow,
)
from bot.reminders import dispatch, planner, preview, sms
from tests.unit.conftest import FakeSender

BRT = ZoneInfo("America/Sao_Paulo")
DUE = date(2026, 12, 10)  # a Thursday

# A cadence on the whole legal window (no narrowing), two steps, both channels.
CADENCE = """
version: 1
name: teste
limits: {per_day: 1, per_week: 3}
steps:
  - id: antes
    offset_days: -3
    tone: amigavel
    channels: [whatsapp, sms]
    whatsapp:
      content_sid: HX1234567890abcdef1234567890abcdef
      variables: {"1": "{nome}", "2": "{valor}", "3": "{credor}", "4": "{cnpj}", "5": "{link}"}
    sms: >-
      Olá, {nome}! Lembrete: {valor} com {credor} (CNPJ {cnpj}) vence em {data}. {link}
      Para não receber mais, responda PARAR.
  - id: depois
    offset_days: 1
    tone: cordial
    channels: [whatsapp, sms]
    whatsapp:
      content_sid: HXabcdef1234567890abcdef1234567890
      variables: {"1": "{nome}", "2": "{valor}", "3": "{credor}", "4": "{cnpj}", "5": "{link}"}
    sms: >-
      Olá, {nome}. A fatura de {data} ({valor}) com {credor} (CNPJ {cnpj}) está pendente. {link}
      Para não receber mais, responda PARAR.
"""


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = BRT) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


@pytest.fixture
def campaign(db: Database) -> dict[str, int]:
    """A creditor on the test cadence; Ana (São Paulo, WhatsApp consent) and Bruno (Acre, SMS only), each
    with one invoice due on DUE."""
    with db.session() as s:
        creditor = Creditor(
            legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC", cadence_yaml=CADENCE
        )
        consent = datetime(2026, 1, 1, tzinfo=UTC)
        ana = Debtor(name="Ana Lima", cpf="52998224725", phone="+5511987654321", state="SP",
                     timezone="America/Sao_Paulo", whatsapp_consent_at=consent)  # fmt: skip
        bruno = Debtor(name="Bruno Reis", cpf="11144477735", phone="+5568999887766", state="AC",
                       timezone="America/Rio_Branco")  # fmt: skip
        s.add_all([creditor, ana, bruno])
        for ref, debtor in (("A-1", ana), ("B-1", bruno)):
            s.add(
                Invoice(creditor=creditor, debtor=debtor, external_ref=ref, amount_cents=15000, due_date=DUE)
            )
        s.flush()
        return {"creditor": creditor.id, "ana": ana.id, "bruno": bruno.id}


def run(db: Database, settings: Settings, sender: FakeSender, now: datetime) -> dispatch.DispatchStats:
    """Plan (for `now`'s date in Brasília) and dispatch until nothing is due, at the frozen time `now`."""
    total = dispatch.DispatchStats()
    with time_machine.travel(now, tick=False):
        with db.session() as s:
            planner.plan(s, now.astimezone(BRT).date())
        while (stats := dispatch.dispatch_batch(db, settings, sender, now=utcnow())).claimed:
            total.add(stats)
    return total


def entries(db: Database) -> list[tuple[str, str, str, str | None]]:
    with db.session() as s:
        rows = s.execute(
            select(Invoice.external_ref, OutboxEntry.step_id, OutboxEntry.status, OutboxEntry.channel)
            .join(Invoice, Invoice.id == OutboxEntry.invoice_id)
            .order_by(Invoice.external_ref, OutboxEntry.step_id)
        ).all()
    return [(ref, step, str(status.value), channel) for ref, step, status, channel in rows]


def test_each_step_goes_out_on_its_day_and_only_once(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    sender = FakeSender()
    assert run(db, settings, sender, at(DUE - timedelta(days=4), 10)).claimed == 0  # D-4: nothing yet
    stats = run(db, settings, sender, at(DUE - timedelta(days=3), 10))  # D-3, Monday 10:00
    assert stats.sent == 2
    assert sorted(r.channel for r in sender.sent) == ["sms", "whatsapp"]
    ana = next(r for r in sender.sent if r.channel == "whatsapp")
    assert ana.content_sid == "HX1234567890abcdef1234567890abcdef"  # outside the 24 h window: a template
    assert ana.content_variables["3"] == "Loja Exemplo Ltda" and "/p/" in ana.content_variables["5"]
    bruno = next(r for r in sender.sent if r.channel == "sms")
    assert "CNPJ 11.222.333/0001-81" in bruno.body and "PARAR" in bruno.body
    assert run(db, settings, sender, at(DUE - timedelta(days=3), 15)).claimed == 0  # planned once, sent once
    assert run(db, settings, sender, at(DUE + timedelta(days=1), 10)).sent == 2  # D+1
    assert len(sender.sent) == 4
    assert {(ref, step, state) for ref, step, state, _ in entries(db)} == {
        ("A-1", "antes", "sent"), ("A-1", "depois", "sent"),
        ("B-1", "antes", "sent"), ("B-1", "depois", "sent"),
    }  # fmt: skip


def test_outside_the_window_a_step_waits_for_the_next_opening(
    db: Database, settings: Settings, campaign
) -> None:  # type: ignore[no-untyped-def]
    sender = FakeSender()
    saturday = date(2026, 12, 12)  # the invoices' D-3 falls on this Saturday
    with db.session() as s:
        s.execute(update(Invoice).values(due_date=saturday + timedelta(days=3)))
    # Saturday 16:30 in São Paulo is 14:30 in Rio Branco: the window closed at 14:00 for both.
    stats = run(db, settings, sender, at(saturday, 16, 30))
    assert stats.sent == 0 and stats.reasons["outside_window"] == 2
    assert run(db, settings, sender, at(saturday + timedelta(days=1), 11)).sent == 0  # Sunday: never
    # Monday 08:00 in São Paulo is open; in Rio Branco it is 06:00 there: Bruno waits until 08:00 local.
    monday = saturday + timedelta(days=2)
    run(db, settings, sender, at(monday, 8, 1))
    assert [r.channel for r in sender.sent] == ["whatsapp"]
    run(db, settings, sender, at(monday, 9, 59))
    assert len(sender.sent) == 1
    run(db, settings, sender, at(monday, 10, 0))  # 08:00 in Acre
    assert [r.channel for r in sender.sent] == ["whatsapp", "sms"]


def test_a_state_holiday_defers_only_that_state(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    # 2026-07-09 (Thursday) is a São Paulo state holiday (Revolução Constitucionalista), not in Acre.
    holiday = date(2026, 7, 9)
    with db.session() as s:
        s.execute(update(Invoice).values(due_date=holiday + timedelta(days=3)))
    sender = FakeSender()
    run(db, settings, sender, at(holiday, 12))
    assert [r.channel for r in sender.sent] == ["sms"]  # Bruno (AC) only
    run(db, settings, sender, at(holiday + timedelta(days=1), 12))
    assert [r.channel for r in sender.sent] == ["sms", "whatsapp"]  # Ana the next day


def test_opt_out_mid_campaign_stops_every_later_message(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    sender = FakeSender()
    run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    with db.session() as s:  # Ana answers PARAR on WhatsApp, Bruno on SMS
        for key, channel in (("ana", Channel.WHATSAPP), ("bruno", Channel.SMS)):
            debtor = s.get_one(Debtor, campaign[key])
            optout.record(s, channel=channel, address=debtor.phone, action=OptOutAction.OPT_OUT,
                          source="keyword", debtor=debtor)  # fmt: skip
    stats = run(db, settings, sender, at(DUE + timedelta(days=1), 10))
    # Ana still allows SMS, so her next step goes by SMS; Bruno allowed only SMS: nothing for him.
    assert [r.channel for r in sender.sent[2:]] == ["sms"]
    assert sender.sent[2].to == "+5511987654321"
    assert stats.reasons["no_channel"] == 1


def test_payment_mid_campaign_stops_the_reminders(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    sender = FakeSender()
    run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    with db.session() as s:
        s.execute(update(Invoice).where(Invoice.external_ref == "A-1").values(status=InvoiceStatus.PAID))
    with time_machine.travel(at(DUE + timedelta(days=1), 10), tick=False):
        with db.session() as s:
            planner.plan(s, DUE + timedelta(days=1))
        # Paid between planning and sending: the re-check right before sending catches it.
        with db.session() as s:
            s.execute(update(Invoice).where(Invoice.external_ref == "B-1").values(status=InvoiceStatus.PAID))
        stats = dispatch.dispatch_batch(db, settings, sender, now=utcnow())
    assert stats.sent == 0 and stats.reasons["not_open"] == 1
    assert len(sender.sent) == 2


def test_whatsapp_failure_falls_back_to_sms(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    sender = FakeSender()
    sender.channel_failures["whatsapp"] = [
        PermanentSendError("Twilio 400, code 63016", code=63016, status=400)
    ]
    stats = run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    assert stats.fell_back == 1
    assert sorted((r.channel, r.to) for r in sender.sent) == [
        ("sms", "+5511987654321"),
        ("sms", "+5568999887766"),
    ]


def test_an_undelivered_whatsapp_callback_falls_back_to_sms(
    db: Database, settings: Settings, campaign
) -> None:  # type: ignore[no-untyped-def]
    sender = FakeSender()
    run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    with db.session() as s:
        sid = s.scalar(select(Message.provider_sid).where(Message.channel == Channel.WHATSAPP))
        delivery_status.apply(s, sid, "undelivered", "63024")  # not a WhatsApp user
    run(db, settings, sender, at(DUE - timedelta(days=3), 10, 5))
    assert [(r.channel, r.to) for r in sender.sent][-1] == ("sms", "+5511987654321")


def test_a_429_storm_retries_with_the_same_message_and_never_duplicates(
    db: Database, settings: Settings, campaign
) -> None:  # type: ignore[no-untyped-def]
    sender = FakeSender()
    sender.failures = [RetryableSendError("Twilio 429", code=20429, status=429)] * 6
    start = at(DUE - timedelta(days=3), 10)
    minutes = 0
    while len(sender.sent) < 2 and minutes < 30:
        run(db, settings, sender, start + timedelta(minutes=minutes))
        minutes += 1
    assert len(sender.sent) == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 2  # retried, never re-created
        assert s.scalar(select(func.max(Message.attempts))) > 1


def test_a_handoff_pauses_reminders(db: Database, settings: Settings, campaign: dict[str, int]) -> None:
    with db.session() as s:
        s.add(Conversation(channel=Channel.WHATSAPP, address="+5511987654321", debtor_id=campaign["ana"],
                           state=ConversationState.WITH_AGENT))  # fmt: skip
    sender = FakeSender()
    stats = run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    assert stats.reasons["handoff"] == 1 and [r.to for r in sender.sent] == ["+5568999887766"]


def test_several_invoices_of_one_debtor_become_one_message_a_day(
    db: Database, settings: Settings, campaign
) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        creditor = s.get_one(Creditor, campaign["creditor"])
        ana = s.get_one(Debtor, campaign["ana"])
        s.add(Invoice(creditor=creditor, debtor=ana, external_ref="A-2", amount_cents=5000, due_date=DUE))
        later = DUE + timedelta(days=4)
        s.add(Invoice(creditor=creditor, debtor=ana, external_ref="A-3", amount_cents=7000, due_date=later))
    sender = FakeSender()
    run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    to_ana = [r for r in sender.sent if r.to == "+5511987654321"]
    assert len(to_ana) == 1 and to_ana[0].content_variables["2"] == "R$ 200,00 (2 faturas)"
    # A-3's own D-3 comes on DUE+1: nothing more before that.
    run(db, settings, sender, at(DUE - timedelta(days=2), 10))
    assert len([r for r in sender.sent if r.to == "+5511987654321"]) == 1


def test_two_dispatchers_on_the_same_outbox_send_each_step_once(db: Database, settings: Settings) -> None:
    with db.session() as s:
        creditor = Creditor(
            legal_name="Loja", cnpj="11222333000181", contact_channel="SAC", cadence_yaml=CADENCE
        )
        s.add(creditor)
        for n in range(60):
            debtor = Debtor(name=f"Pessoa {n}", cpf=_cpf(n), phone=f"+55119{87000000 + n:08d}", state="SP")
            s.add(
                Invoice(
                    creditor=creditor, debtor=debtor, external_ref=f"X-{n}", amount_cents=1000, due_date=DUE
                )
            )
    now = at(DUE - timedelta(days=3), 10)
    with time_machine.travel(now, tick=False), db.session() as s:
        planner.plan(s, now.date())
    sender = FakeSender()
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            while dispatch.dispatch_batch(db, settings, sender, limit=7, now=now).claimed:
                pass
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(sender.sent) == 60 and len({r.to for r in sender.sent}) == 60
    with db.session() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == OutboxStatus.SENT)
            )
            == 60
        )


def _cpf(n: int) -> str:
    base = f"{100000000 + n * 7919:09d}"
    digits = [int(c) for c in base]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=False))
        digits.append((total * 10) % 11 % 10)
    return "".join(map(str, digits))


def test_a_row_reclaimed_after_a_crash_is_settled_not_resent(
    db: Database, settings: Settings, campaign
) -> None:  # type: ignore[no-untyped-def]
    sender = FakeSender()
    now = at(DUE - timedelta(days=3), 10)
    run(db, settings, sender, now)
    with (
        db.session() as s
    ):  # as if the dispatcher died after the provider took it, before the row was updated
        s.execute(
            update(OutboxEntry).values(
                status=OutboxStatus.SENDING, claimed_until=utcnow() - timedelta(minutes=1)
            )
        )
    later = now + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        stats = dispatch.dispatch_batch(db, settings, sender, now=utcnow())
    assert stats.claimed == 2 and stats.sent == 2 and len(sender.sent) == 2
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Message).where(Message.status == MessageStatus.PENDING))
            == 0
        )


class Crash(Exception):
    """The dispatcher dies."""


class LookupSender(FakeSender):
    """A provider that also answers `lookup` (what it has for a request), failing while told to; with
    `crash_after_send`, the dispatcher dies after the provider took each message, before hearing back."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: dict[str, SendResult] = {}
        self.lookup_failures: list[Exception] = []
        self.crash_after_send = False

    def send(self, request):  # type: ignore[no-untyped-def]
        result = super().send(request)
        self.accepted[request.to] = result
        if self.crash_after_send:
            raise Crash
        return result

    def lookup(self, request, since, exclude=frozenset()):  # type: ignore[no-untyped-def]
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        return self.accepted.get(request.to)


def test_a_send_not_yet_recorded_at_a_crash_is_looked_up_not_resent(
    db: Database, settings: Settings, campaign
) -> None:  # type: ignore[no-untyped-def]
    sender = LookupSender()
    sender.crash_after_send = True
    now = at(DUE - timedelta(days=3), 10)
    with pytest.raises(Crash):  # the provider took them; the SIDs were not saved
        run(db, settings, sender, now)
    assert len(sender.sent) == 2
    sender.crash_after_send = False
    with db.session() as s:
        assert {(m.status, m.provider_sid) for m in s.scalars(select(Message))} == {
            (MessageStatus.SENDING, None)
        }
    # The lease runs out while the provider cannot be asked: nothing is sent blind, the rows wait.
    sender.lookup_failures = [RetryableSendError("Twilio lookup failed")] * 2
    with time_machine.travel(now + timedelta(minutes=5), tick=False):
        stats = dispatch.dispatch_batch(db, settings, sender, now=utcnow())
    assert stats.claimed == 2 and stats.sent == 0 and len(sender.sent) == 2
    # Next lease: the provider says it has them; their SIDs are recorded and nothing goes out again.
    with time_machine.travel(now + timedelta(minutes=10), tick=False):
        stats = dispatch.dispatch_batch(db, settings, sender, now=utcnow())
    assert stats.claimed == 2 and stats.sent == 2 and len(sender.sent) == 2
    with db.session() as s:
        sids = {m.provider_sid for m in s.scalars(select(Message))}
        assert sids == {result.sid for result in sender.accepted.values()}
        assert {e.status for e in s.scalars(select(OutboxEntry))} == {OutboxStatus.SENT}


def test_a_debtor_an_agent_paused_gets_no_reminder_and_gets_them_again_once_resumed(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    sender = FakeSender()
    with time_machine.travel(at(DUE - timedelta(days=3), 9), tick=False), db.session() as s:
        planner.plan(s, DUE - timedelta(days=3))  # Ana's row is planned before the pause...
        s.get_one(Debtor, campaign["ana"]).reminders_paused_at = utcnow()
    stats = run(db, settings, sender, at(DUE - timedelta(days=3), 10))
    # ... and the dispatcher's re-check skips it: only Bruno hears from us.
    assert stats.reasons["debtor_paused"] == 1 and [r.to for r in sender.sent] == ["+5568999887766"]
    with time_machine.travel(at(DUE + timedelta(days=1), 9), tick=False), db.session() as s:
        # The campaign preview agrees: of the day's two reminders, only Bruno's would go.
        assert sum(row.count for row in preview.preview(s, settings, DUE + timedelta(days=1)).rows) == 1
        planner.plan(s, DUE + timedelta(days=1))  # while paused, the planner plans nothing for her
        assert s.scalars(
            select(OutboxEntry.step_id).where(OutboxEntry.debtor_id == campaign["ana"])
        ).all() == ["antes"]
        s.get_one(Debtor, campaign["ana"]).reminders_paused_at = None  # resumed
    run(db, settings, sender, at(DUE + timedelta(days=1), 10))
    assert "+5511987654321" in [r.to for r in sender.sent[1:]]
    assert ("A-1", "depois", "sent") in {(ref, step, state) for ref, step, state, _ in entries(db)}


def test_an_sms_reminder_keeps_the_segments_it_is_billed_as_and_a_whatsapp_one_none(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    run(db, settings, FakeSender(), at(DUE - timedelta(days=3), 10))
    with db.session() as s:
        sent = {m.channel.value: (m.segments, m.body) for m in s.scalars(select(Message))}
    assert sent["whatsapp"][0] is None
    segments, body = sent["sms"]
    assert segments == sms.segments(body).segments == 3  # 196 characters with accents: UCS-2, 67 a segment
