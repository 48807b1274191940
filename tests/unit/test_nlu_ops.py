"""Issue 17 §1-§3 as services: every prediction recorded with its message, masking, the NLU inbox
(grouping, sorting, reasons), ops' decisions and agents' flags, and the training examples they produce."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from bot import audit
from bot.config import Settings
from bot.db import Database
from bot.models import (
    AuditLog,
    Conversation,
    Message,
    MessagePrediction,
    NluVerdict,
    utcnow,
)
from bot.nlu_ops import changes, examples, inbox, review
from bot.people.roles import NotAllowed
from bot.rasa import training
from bot.rasa.client import Prediction, RasaClient
from bot.redaction import mask_message
from tests.conftest import People
from tests.unit.conftest import FakePool, FakeRasa, FakeSender, post_message
from tests.unit.console_people import detached_user
from tests.unit.nlu_messages import conversation, copy_nlu_data, predicted

THRESHOLD = 0.6
INTENTS = examples.intents()

# ---- masking ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("meu cpf é 123.456.789-09", "meu cpf é <cpf>"),
        ("cpf 12345678909 ok", "cpf <numero> ok"),
        ("me liga no (11) 98765-4321", "me liga no <telefone>"),
        ("whats +5511987654321", "whats <telefone>"),
        ("paguei R$ 1.234,56 ontem", "paguei <valor> ontem"),
        ("posso pagar 150 reais dia 10 em 3x", "posso pagar <valor> dia 10 em 3x"),
        ("mandei 99,90", "mandei <valor>"),
        ("manda pra joao.silva@gmail.com", "manda pra <email>"),
        ("00020126580014br.gov.bcb.pix0136abcd-1234 deu erro", "<codigo> deu erro"),
        ("23790.12345 60000.000005 12345.678901 1 23450000015000", "<codigo>"),
        ("protocolo 2024-123456", "protocolo <numero>"),
        ("quero pagar dia 15/12, pode ser?", "quero pagar dia 15/12, pode ser?"),
    ],
)
def test_a_debtor_message_is_masked_before_it_is_shown_outside_the_conversation(
    text: str, masked: str
) -> None:
    assert mask_message(text) == masked


# ---- recording ------------------------------------------------------------------------------------------


def test_the_rasa_client_takes_the_prediction_out_of_the_answer_and_returns_it_typed() -> None:
    reported = {
        "intent": "ja_paguei",
        "confidence": 0.91,
        "ranking": [{"name": "ja_paguei", "confidence": 0.91}, {"name": "segunda_via", "confidence": 0.05}],
        "entities": [{"entity": "valor", "value": "R$ 50", "start": 7, "end": 12}],
        "model_id": "abc123",
        "model_file": "models/regua-0123456789ab.tar.gz",
    }
    pool = FakePool(
        body=[{"text": "Obrigado!"}, {"recipient_id": "42", "custom": {"regua_prediction": reported}}]
    )
    answer = RasaClient("http://rasa:5005", 3.0, pool).turn("42", "paguei R$ 50")  # type: ignore[arg-type]
    assert [m.text for m in answer.messages] == ["Obrigado!"]
    assert answer.prediction == Prediction(
        intent="ja_paguei",
        confidence=0.91,
        ranking=[("ja_paguei", 0.91), ("segunda_via", 0.05)],
        entities=reported["entities"],
        model_id="abc123",
        model_file="models/regua-0123456789ab.tar.gz",
    )


def test_a_malformed_prediction_is_ignored_and_the_answer_kept() -> None:
    pool = FakePool(body=[{"text": "Oi!"}, {"custom": {"regua_prediction": "garbage"}}])
    answer = RasaClient("http://rasa:5005", 3.0, pool).turn("42", "oi")  # type: ignore[arg-type]
    assert [m.text for m in answer.messages] == ["Oi!"] and answer.prediction is None


def _prediction(text: str) -> Prediction:
    return Prediction(
        intent="ja_paguei",
        confidence=0.42,
        ranking=[("ja_paguei", 0.42), ("segunda_via", 0.3), ("afirmar", 0.1)],
        entities=[
            {"entity": "valor", "value": "R$ 50,00", "start": 7, "end": 15, "extractor": "DIETClassifier"}
        ],
        model_id="model-abc",
        model_file="regua-0123456789ab.tar.gz",
    )


def test_each_message_rasa_answers_is_stored_with_its_prediction_and_masked_entities(
    app: Flask, db: Database, settings: Settings, people: People, fake_rasa: FakeRasa, sender: FakeSender
) -> None:
    fake_rasa.predict = _prediction
    post_message(app, settings, "paguei R$ 50,00 ontem")
    with db.session() as s:
        row = s.scalars(select(MessagePrediction)).one()
        assert row.message.body == "paguei R$ 50,00 ontem"
        assert (row.intent, row.confidence, row.model_id) == ("ja_paguei", 0.42, "model-abc")
        assert row.model_file == "regua-0123456789ab.tar.gz"
        assert [r["name"] for r in row.ranking] == ["ja_paguei", "segunda_via", "afirmar"]
        assert row.entities[0]["entity"] == "valor" and row.entities[0]["value"] == "<valor>"
        assert row.verdict is None and row.flagged_at is None
    assert [r.body for r in sender.sent] == ["eco: paguei R$ 50,00 ontem"]


def test_values_the_database_would_refuse_are_made_safe_and_the_debtor_still_gets_the_answer(
    app: Flask, db: Database, settings: Settings, people: People, fake_rasa: FakeRasa, sender: FakeSender
) -> None:
    fake_rasa.predict = lambda _text: Prediction(
        intent="x" * 300 + "\x00",
        confidence=math.nan,
        ranking=[("a\x00b", math.inf)],
        entities=[{"entity": "valor", "value": "\x00 123.456.789-09", "start": "zero"}],
        model_id="m" * 100,
    )
    post_message(app, settings, "oi")
    with db.session() as s:
        row = s.scalars(select(MessagePrediction)).one()
        assert row.intent == "x" * 80 and row.confidence is None and len(row.model_id or "") == 64
        assert row.ranking == [{"name": "ab", "confidence": None}]
        assert row.entities[0]["value"] == " <cpf>" and row.entities[0]["start"] is None
    assert [r.body for r in sender.sent] == ["eco: oi"]


def test_a_turn_without_a_reported_prediction_records_nothing(
    app: Flask, db: Database, settings: Settings, people: People, sender: FakeSender
) -> None:
    post_message(app, settings, "oi")
    with db.session() as s:
        assert s.scalars(select(MessagePrediction)).all() == []
    assert [r.body for r in sender.sent] == ["eco: oi"]


# ---- the inbox ------------------------------------------------------------------------------------------


def test_the_inbox_groups_similar_masked_texts_most_frequent_first_and_leaves_confident_ones_out(
    db: Database,
) -> None:
    c = conversation(db)
    predicted(db, c, "Já paguei!!", "ja_paguei", 0.41)
    predicted(db, c, "ja   paguei", "ja_paguei", 0.55)
    predicted(db, c, "JA PAGUEI", "afirmar", 0.35)
    predicted(db, c, "meu cpf é 123.456.789-09", "nlu_fallback", 0.9)
    predicted(db, c, "meu CPF é 987.654.321-00", "nlu_fallback", 0.8)
    predicted(db, c, "quero falar com a lua", "fora_de_escopo", 0.97)
    predicted(db, c, "segunda via por favor", "segunda_via", 0.98)  # confident: not in the inbox
    with db.session() as s:
        groups = inbox.pending(s, THRESHOLD)
    assert [(g.count, g.text) for g in groups] == [
        (3, "JA PAGUEI"),  # the most recent text of the group
        (2, "meu CPF é <cpf>"),  # two CPFs, one group: masked before grouping
        (1, "quero falar com a lua"),
    ]
    paid, cpf, moon = groups
    assert paid.intent == "ja_paguei" and paid.confidence == pytest.approx((0.41 + 0.55 + 0.35) / 3)
    assert (
        paid.reasons == ("low_confidence",) and cpf.reasons == ("fallback",) and moon.reasons == ("fallback",)
    )
    assert paid.key == inbox.group_key("já paguei") and len(paid.key) == 8
    assert "123.456" not in repr(groups)


def test_messages_before_a_hand_over_that_followed_a_miss_are_in_the_inbox(db: Database) -> None:
    now = utcnow()
    missed, calm = conversation(db, "+5511900000001"), conversation(db, "+5511900000002")
    predicted(db, missed, "nao entendi nada", "nlu_fallback", 0.3, at=now - timedelta(minutes=6))
    predicted(db, missed, "quero o boleto do mes passado", "segunda_via", 0.93, at=now - timedelta(minutes=4))
    predicted(db, missed, "bem antes", "saudacao", 0.99, at=now - timedelta(minutes=40))
    predicted(db, calm, "quero falar com uma pessoa", "falar_atendente", 0.97, at=now - timedelta(minutes=2))
    with db.session() as s:
        for c in (missed, calm):
            audit.record(s, "bot", inbox.HANDOFF_ACTION, "conversation", c, state="waiting_agent")
    with db.session() as s:
        groups = {g.text: g for g in inbox.pending(s, THRESHOLD)}
    assert set(groups) == {"nao entendi nada", "quero o boleto do mes passado"}
    assert groups["quero o boleto do mes passado"].reasons == ("handoff",)
    assert groups["nao entendi nada"].reasons == ("low_confidence", "fallback", "handoff")


# ---- decisions ------------------------------------------------------------------------------------------


def test_ops_confirm_relabel_and_discard_whole_groups_and_each_decision_is_audited(db: Database) -> None:
    ops = detached_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    _, paid_1 = predicted(db, c, "ja paguei", "ja_paguei", 0.5)
    _, paid_2 = predicted(db, c, "já paguei!", "ja_paguei", 0.45)
    _, moon = predicted(db, c, "qual a cor da lua", "consultar_divida", 0.3)
    _, noise = predicted(db, c, "kkkkkk", "afirmar", 0.2)
    _, other = predicted(db, c, "manda o codigo", "renegociar", 0.4)
    with db.session() as s:
        assert review.confirm(s, [paid_1, paid_2], ops) == 2
        assert review.relabel(s, [moon], "fora_de_escopo", ops, intents=INTENTS) == 1
        assert review.discard(s, [noise], ops) == 1
        assert review.relabel(s, [other], "segunda_via", ops, intents=INTENTS) == 1
        assert review.confirm(s, [paid_1], ops) == 0  # decided already: nothing to do twice
    with db.session() as s:
        rows = {p.id: p for p in s.scalars(select(MessagePrediction))}
        assert (rows[paid_1].verdict, rows[paid_1].label) == (NluVerdict.CONFIRMED, "ja_paguei")
        assert (rows[moon].verdict, rows[moon].label) == (NluVerdict.OUT_OF_SCOPE, "fora_de_escopo")
        assert (rows[noise].verdict, rows[noise].label) == (NluVerdict.DISCARDED, None)
        assert (rows[other].verdict, rows[other].label) == (NluVerdict.RELABELLED, "segunda_via")
        assert all(r.reviewed_by_user_id == ops.id and r.reviewed_at for r in rows.values())
        audited = s.scalars(select(AuditLog).where(AuditLog.action == "nlu.reviewed")).all()
        assert len(audited) == 5 and {a.actor for a in audited} == {f"agent:{ops.id}"}
        details = json.dumps([a.details for a in audited], ensure_ascii=False)
        assert "já paguei" not in details and "cor da lua" not in details  # ids and labels only
        assert inbox.pending(s, THRESHOLD) == []


def test_a_message_the_model_did_not_understand_cannot_be_confirmed_nor_labelled_unknown(
    db: Database,
) -> None:
    ops = detached_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    _, missed = predicted(db, c, "hein?", "nlu_fallback", 0.3)
    with db.session() as s:
        with pytest.raises(review.ReviewError, match="escolha a intenção"):
            review.confirm(s, [missed], ops)
        with pytest.raises(review.ReviewError, match="desconhecida"):
            review.relabel(s, [missed], "cantar", ops, intents=INTENTS)
        with pytest.raises(review.ReviewError, match="desconhecida"):
            review.relabel(s, [missed], "nlu_fallback", ops, intents=INTENTS)
        assert s.get_one(MessagePrediction, missed).verdict is None


def test_an_agent_may_not_work_the_inbox(db: Database) -> None:
    agent = detached_user(db, "agent", "ana@regua.example")
    supervisor = detached_user(db, "supervisor", "sup@regua.example")
    _, row = predicted(db, conversation(db), "hein?", "afirmar", 0.3)
    with db.session() as s:
        with pytest.raises(NotAllowed):
            review.discard(s, [row], agent)
        assert review.discard(s, [row], supervisor) == 1


def test_an_agent_flags_a_message_the_bot_misunderstood_and_it_goes_back_to_the_inbox(db: Database) -> None:
    agent = detached_user(db, "agent", "ana@regua.example")
    ops = detached_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    message_id, row = predicted(db, c, "quero o boleto", "saudacao", 0.95)  # confidently wrong
    unread_id, _ = predicted(db, c, "oi? tem alguem?", None, None)  # arrived while a person had it
    with db.session() as s:
        review.confirm(s, [row], ops)
    with db.session() as s:
        review.flag(s, message_id, agent)
        review.flag(s, message_id, agent)  # twice: once
        review.flag(s, unread_id, agent)
    with db.session() as s:
        groups = {g.text: g for g in inbox.pending(s, THRESHOLD)}
        assert set(groups) == {"quero o boleto", "oi? tem alguem?"}
        assert (
            groups["quero o boleto"].reasons == ("flagged",) and groups["quero o boleto"].intent == "saudacao"
        )
        assert groups["oi? tem alguem?"].intent is None and groups["oi? tem alguem?"].confidence is None
        flagged = s.scalars(select(AuditLog).where(AuditLog.action == "nlu.flagged")).all()
        assert len(flagged) == 2


def test_only_a_visible_inbound_message_can_be_flagged(db: Database) -> None:
    ana = detached_user(db, "agent", "ana@regua.example")
    bia = detached_user(db, "agent", "bia@regua.example")
    c = conversation(db)
    message_id, _ = predicted(db, c, "oi", "saudacao", 0.99)
    with db.session() as s:
        conv = s.get_one(Conversation, c)
        conv.state, conv.assigned_user_id = "with_agent", bia.id  # Bia's conversation
    with db.session() as s, pytest.raises(NotAllowed):
        review.flag(s, message_id, ana)
    with db.session() as s:
        reply = Message(
            conversation_id=c, direction="outbound", channel="whatsapp", body="Olá!", status="sent"
        )
        s.add(reply)
        s.flush()
        with pytest.raises(review.ReviewError, match="recebidas"):
            review.flag(s, reply.id, bia)


# ---- training examples ------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the real nlu_data/ to write into."""
    return copy_nlu_data(tmp_path / "nlu_data")


def test_labelled_examples_are_added_sorted_deduplicated_below_the_hand_written_ones(data_dir: Path) -> None:
    path = data_dir / "nlu" / "ja_paguei.yml"
    before = path.read_text(encoding="utf-8")
    existing = training.nlu_examples(data_dir)["ja_paguei"][0]
    report = examples.write_examples(
        [
            ("ja_paguei", "depositei na lotérica cedinho"),
            ("ja_paguei", "Acabei de pagar <valor> no pix"),
            ("ja_paguei", "acabei de pagar <valor> no PIX"),  # the same example in other case
            ("ja_paguei", existing.upper()),  # a hand-written one
            ("ja_paguei", "bem cedo eu paguei"),
        ],
        data_dir,
    )
    assert report.added == {
        "ja_paguei": ["Acabei de pagar <valor> no pix", "bem cedo eu paguei", "depositei na lotérica cedinho"]
    }
    assert report.already_there == 2 and report.conflicts == []
    after = path.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n") + "\n")  # the hand-written part is untouched
    assert after[len(before.rstrip("\n")) + 1 :] == (
        f"\n{examples.SECTION_MARK}\n  - intent: ja_paguei\n    examples: |\n"
        "      - Acabei de pagar <valor> no pix\n      - bem cedo eu paguei\n"
        "      - depositei na lotérica cedinho\n"
    )
    read_back = training.nlu_examples(data_dir)["ja_paguei"]
    assert read_back[-3:] == report.added["ja_paguei"]

    # Adding more merges into the same section in order; writing the same again changes no byte.
    examples.write_examples([("ja_paguei", "caiu na conta ja")], data_dir)
    once = path.read_text(encoding="utf-8")
    assert once.count(examples.SECTION_MARK) == 1
    assert "      - bem cedo eu paguei\n      - caiu na conta ja\n      - depositei" in once
    again = examples.write_examples([("ja_paguei", "caiu na conta ja")], data_dir)
    assert again.added == {} and again.already_there == 1 and path.read_text(encoding="utf-8") == once


def test_an_example_another_intent_has_is_refused_as_a_conflict(data_dir: Path) -> None:
    taken = training.nlu_examples(data_dir)["afirmar"][0]
    report = examples.write_examples([("negar", taken), ("negar", "jamais em tempo algum")], data_dir)
    assert report.conflicts == [(taken, "negar", "afirmar")]
    assert report.added == {"negar": ["jamais em tempo algum"]}


def test_example_text_is_masked_on_one_line_without_annotation_brackets() -> None:
    assert (
        examples.example_text("paguei [R$ 50](valor)\n  cpf 123.456.789-09")
        == "paguei (<valor>)(valor) cpf <cpf>"
    )


def test_export_writes_the_labelled_messages_once_and_marks_them(db: Database, data_dir: Path) -> None:
    ops = detached_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    _, paid = predicted(db, c, "paguei R$ 80,00 no pix agora", "ja_paguei", 0.5)
    _, moon = predicted(db, c, "a lua é de queijo", "afirmar", 0.2)
    _, noise = predicted(db, c, "kkkk", "afirmar", 0.2)
    with db.session() as s:
        review.confirm(s, [paid], ops)
        review.relabel(s, [moon], "fora_de_escopo", ops, intents=INTENTS)
        review.discard(s, [noise], ops)
    with db.session() as s:
        report = examples.export(s, data_dir)
    assert report.added == {
        "fora_de_escopo": ["a lua é de queijo"],
        "ja_paguei": ["paguei <valor> no pix agora"],
    }
    assert "R$ 80" not in (data_dir / "nlu" / "ja_paguei.yml").read_text(encoding="utf-8")
    with db.session() as s:
        assert examples.export(s, data_dir).added == {}
        exported = s.scalars(select(MessagePrediction).where(MessagePrediction.exported_at.is_not(None)))
        assert {p.id for p in exported} == {paid, moon}


def test_the_changes_since_the_model_are_the_examples_added_and_removed(
    data_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "models" / "regua-0123456789ab.tar.gz"
    model.parent.mkdir()
    model.write_bytes(b"model")
    assert changes.newest_model(model.parent) == model
    assert not changes.since_model(model, data_dir).known  # trained before snapshots, on other data
    training.write_examples_snapshot(model, data_dir)
    assert changes.since_model(model, data_dir).empty

    examples.write_examples([("ja_paguei", "caiu na conta ja")], data_dir)
    path = data_dir / "nlu" / "negar.yml"
    removed = training.nlu_examples(data_dir)["negar"][0]
    path.write_text(path.read_text(encoding="utf-8").replace(f"      - {removed}\n", "", 1), encoding="utf-8")
    found = changes.since_model(model, data_dir)
    assert found.known and found.added == {"ja_paguei": ["caiu na conta ja"]}
    assert found.removed == {"negar": [removed]}
    assert changes.since_model(None, data_dir).model is None
