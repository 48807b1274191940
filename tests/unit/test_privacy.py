"""LGPD export and erasure (bot.privacy): everything on a person comes out, nothing identifying stays."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import redis
import time_machine
from sqlalchemy import func, select

from bot import optout
from bot.config import Settings, override
from bot.db import Database
from bot.imports import import_debtors
from bot.models import (
    Agreement,
    AuditLog,
    Case,
    Channel,
    Conversation,
    Creditor,
    Debtor,
    Invoice,
    Message,
    OptOutEvent,
    OutboxEntry,
    OutboxStatus,
    Payment,
    PaymentLink,
    PaymentLinkView,
)
from bot.privacy import erasure, export, summary
from bot.privacy.subjects import find_subject
from bot.rasa import server
from bot.reminders import dispatch, planner
from tests.unit.conftest import FakeSender
from tests.unit.lgpd_people import ANA_CPF, ANA_NEEDLES, ANA_PHONE, JOAO_PHONE, all_text, create
from tests.unit.test_reminders import CADENCE

KEY = b"k" * 32


def erase_ana(db: Database, ana_id: int, actor: str = "cli:dpo") -> erasure.Erasure:
    with db.session() as s:
        return erasure.erase(s, s.get_one(Debtor, ana_id), key=KEY, actor=actor)


def test_the_export_holds_everything_on_the_person_and_nothing_of_anyone_else(db: Database) -> None:
    ids = create(db)
    with db.session() as s:
        data = export.collect(s, s.get_one(Debtor, ids.ana))
    text = json.dumps(data, ensure_ascii=False)
    assert data["person"]["cpf"] == ANA_CPF and data["person"]["email"] == "ana.lima@example.com"
    assert {i["external_ref"] for i in data["invoices"]} == {"A-1", "A-0"}
    assert [c["id"] for c in data["conversations"]] == [ids.ana_conversation, ids.unlinked_conversation]
    bodies = [m["body"] for c in data["conversations"] for m in c["messages"]]
    assert (
        "Oi, sou a Ana Beatriz Lima, CPF 529.982.247-25" in bodies
        and "aqui é a Ana Beatriz de novo" in bodies
    )
    assert data["payments"][0]["amount_cents"] == 5000
    assert data["agreements"][0]["instalments"][0]["amount_cents"] == 5000
    assert data["payment_links"][0]["views"][0]["user_agent"] == "Mozilla/5.0 (iPhone da Ana)"
    assert data["cases"][0]["evidence"] and data["opt_out_events"][0]["address"] == ANA_PHONE
    assert data["reminders"] and any(a["action"] == "channel.opt_out" for a in data["audit_log"])
    assert export.counts(data)["messages"] == 3
    # Nobody else's data, and no bearer secret (the payment-page token).
    assert "João" not in text and JOAO_PHONE not in text and "tok-ana-1" not in text
    assert all(a["action"] != "import.debtors" for a in data["audit_log"])


def test_the_readable_summary_is_portuguese_and_lists_the_persons_records(db: Database) -> None:
    ids = create(db)
    with db.session() as s:
        text = summary.render(export.collect(s, s.get_one(Debtor, ids.ana)))
    assert text.startswith("# Seus dados pessoais tratados pela Régua")
    assert "CPF: 529.982.247-25" in text and "R$ 159,90" in text and "Faturas (2)" in text
    assert "Conversas (2, 3 mensagens)" in text and "pediu para não receber por WhatsApp" in text
    assert "Twilio" in text and "art. 7º" in text and "João" not in text
    assert "Segmento definido pelo credor: varejo (indicação da Beatriz)" in text


def test_an_erased_person_leaves_no_name_cpf_phone_or_message_in_any_column_of_any_table(
    db: Database,
) -> None:
    ids = create(db)
    done = erase_ana(db, ids.ana)
    assert not done.already_erased and done.conversations == 2 and done.messages == 3
    with db.engine.connect() as conn:
        text = all_text(conn)
    for needle in ANA_NEEDLES:
        assert needle not in text, needle
    assert ANA_CPF not in text and "comprovante" not in text and "MEa" not in text
    # João is untouched.
    assert "João Pereira" in text and JOAO_PHONE in text and "Oi, aqui é o João Pereira" in text


def test_what_the_creditor_must_keep_survives_an_erasure_without_identifying_data(db: Database) -> None:
    ids = create(db)
    erase_ana(db, ids.ana)
    with db.session() as s:
        ana = s.get_one(Debtor, ids.ana)
        assert ana.name == "Titular anonimizado" and ana.erased_at is not None and len(ana.cpf) == 11
        assert not ana.cpf.isdigit()  # never a CPF, so it never matches a real one
        assert sorted(s.scalars(select(Invoice.amount_cents).where(Invoice.debtor_id == ids.ana))) == [
            5000,
            15990,
        ]
        assert s.scalar(select(Payment.amount_cents)) == 5000
        assert s.scalar(select(Agreement.terms)) == "À vista, R$ 50,00, com Loja Exemplo Ltda."
        assert s.scalar(select(func.count()).select_from(Message)) == 4  # rows (dates, statuses) stay
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        link = s.scalar(select(PaymentLink))
        assert link.expires_at <= datetime.now(UTC)  # the payment page no longer opens
        assert s.scalar(select(PaymentLinkView.user_agent)) is None
        events = s.scalars(select(OptOutEvent).where(OptOutEvent.debtor_id == ids.ana)).all()
        assert events and all(len(e.address) == 64 and not e.address.startswith("+") for e in events)


def test_an_erased_persons_opt_out_still_stops_reminders_to_their_number(
    db: Database, settings: Settings, tmp_path
) -> None:
    ids = create(db)
    erase_ana(db, ids.ana)
    # Later the creditor's file brings the same number under another person (a recycled line, say).
    path = tmp_path / "devedores.csv"
    path.write_text("nome;cpf;telefone\nCarla Souza;473.847.228-37;11987654321\n", encoding="utf-8")
    assert import_debtors(db, path).created == 1
    with db.session() as s:
        carla = s.scalar(select(Debtor).where(Debtor.cpf == "47384722837"))
        s.get_one(Creditor, ids.creditor).cadence_yaml = CADENCE  # a step the day after the due date
        s.add(Invoice(creditor_id=ids.creditor, debtor_id=carla.id, external_ref="C-1", amount_cents=1000,
                      due_date=date(2026, 12, 9)))  # fmt: skip
    sender = FakeSender()
    now = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)  # 10:00 in Brasília, a weekday
    with time_machine.travel(now, tick=False):
        with db.session() as s:
            planner.plan(s, date(2026, 12, 10))
        stats = dispatch.DispatchStats()
        keyed = override(settings, privacy_hash_key=KEY.decode())
        while (batch := dispatch.dispatch_batch(db, keyed, sender, now=now)).claimed:
            stats.add(batch)
    assert sender.sent == []  # Carla would get an SMS if Ana's opt-out had been lost with her number
    with db.session() as s:
        carla_entry = s.scalar(select(OutboxEntry).join(Invoice).where(Invoice.external_ref == "C-1"))
        assert carla_entry.status == OutboxStatus.SKIPPED
    with db.session() as s:
        assert optout.is_opted_out(s, Channel.WHATSAPP, ANA_PHONE, key=KEY)
        assert optout.is_opted_out(s, Channel.SMS, ANA_PHONE, key=KEY)
        assert not optout.is_opted_out(s, Channel.SMS, ANA_PHONE)  # without the key the hash is opaque


def test_erasure_stops_the_persons_pending_reminders(db: Database) -> None:
    ids = create(db)
    done = erase_ana(db, ids.ana)
    assert done.reminders_stopped == 1
    with db.session() as s:
        entry = s.scalar(select(OutboxEntry))
        assert (entry.status, entry.note) == (OutboxStatus.SKIPPED, "erased")
        ana = s.get_one(Debtor, ids.ana)
        assert ana.opted_out(Channel.WHATSAPP) and ana.opted_out(Channel.SMS)


def test_erasing_twice_changes_nothing_the_second_time_and_the_person_is_still_found_by_cpf(
    db: Database,
) -> None:
    ids = create(db)
    first = erase_ana(db, ids.ana)
    with db.engine.connect() as conn:
        before = all_text(conn)
    with db.session() as s:
        found = find_subject(s, KEY, ANA_CPF)
        assert found is not None and found.id == ids.ana
        second = erasure.erase(s, found, key=KEY, actor="cli:dpo")
    assert second.already_erased and second.erased_at == first.erased_at
    with db.engine.connect() as conn:
        assert all_text(conn) == before
    with db.session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "lgpd.erase")).all()
    assert [(a.actor, a.entity_id) for a in audit] == [("cli:dpo", str(ids.ana))]
    assert audit[0].details["messages"] == 3 and ANA_CPF not in json.dumps(audit[0].details)


def test_an_erased_cpf_in_an_old_file_is_refused_not_silently_recreated(db: Database, tmp_path) -> None:
    ids = create(db)
    erase_ana(db, ids.ana)
    path = tmp_path / "antigo.csv"
    path.write_text("nome;cpf;telefone\nAna Beatriz Lima;529.982.247-25;11987654321\n", encoding="utf-8")
    report = import_debtors(db, path, erasure_key=KEY)
    assert report.created == 0 and report.failed == 1
    assert "eliminados a pedido" in report.errors[0].reason and ANA_CPF not in report.errors[0].reason
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Debtor)) == 2


def test_rasa_trackers_expire_and_an_erasure_deletes_the_persons_trackers(
    db: Database, settings: Settings, redis_url: str, redis_conn: redis.Redis
) -> None:
    config = server.endpoints_config(override(settings, redis_url="redis://127.0.0.1:6379/7"))
    assert config["tracker_store"]["record_exp"] == 30 * 86400
    assert "record_exp" not in config["lock_store"]

    ids = create(db)
    ana_keys = erasure.tracker_keys([ids.ana_conversation, ids.unlinked_conversation])
    joao_key = erasure.tracker_keys([ids.joao_conversation])[0]
    for key in [*ana_keys, joao_key]:
        redis_conn.set(key, "{}")
    done = erase_ana(db, ids.ana)
    assert erasure.forget_trackers(redis_url, done.conversation_ids) == 2
    assert not any(redis_conn.exists(k) for k in ana_keys) and redis_conn.exists(joao_key)


def test_conversations_of_the_persons_numbers_that_belong_to_someone_else_are_left_alone(
    db: Database,
) -> None:
    ids = create(db)
    with db.session() as s:  # João once wrote from Ana's secondary number: his conversation, not hers
        s.get_one(Conversation, ids.unlinked_conversation).debtor_id = ids.joao
    erase_ana(db, ids.ana)
    with db.session() as s:
        assert s.get_one(Conversation, ids.unlinked_conversation).redacted_at is None
        assert s.scalar(select(func.count()).where(Message.body == "aqui é a Ana Beatriz de novo")) == 1
