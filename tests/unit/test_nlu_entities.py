"""Entities ops mark in the NLU inbox (issue 17 §2): checked against the domain and the masked text,
stored with the decision, and written to the training data in Rasa's `[trecho](entidade)` syntax; from
the console (a refused annotation loses nothing) and from `regua nlu inbox --entity`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from bot.db import Database
from bot.models import MessagePrediction, NluVerdict
from bot.nlu_ops import annotations, examples, inbox, review
from bot.nlu_ops.annotations import Annotation, AnnotationError
from bot.rasa import training
from tests.unit.conftest import run
from tests.unit.console_people import detached_user, form_field, log_in, make_user
from tests.unit.nlu_messages import conversation, copy_nlu_data, predicted

ENTITIES = ("data", "parcelas", "valor")
TEXT = "paguei <valor> dia 15, faltam 2 parcelas"


def test_an_annotation_is_placed_on_the_masked_text_in_text_order() -> None:
    placed = annotations.resolve(
        TEXT, [Annotation("data", "dia 15"), Annotation("valor", "<valor>")], ENTITIES
    )
    assert [(a["entity"], a["value"], a["start"]) for a in placed] == [
        ("valor", "<valor>", 7),
        ("data", "dia 15", 15),
    ]


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ([Annotation("cidade", "dia 15")], "Entidade desconhecida: “cidade”. As entidades do domínio são"),
        ([Annotation("valor", "R$ 80,00")], "O trecho “R$ 80,00” não aparece no texto da mensagem"),
        ([Annotation("data", "dia 15"), Annotation("parcelas", "15")], "se sobrepõe a outra entidade"),
        ([Annotation("data", "Dia 15")], "não aparece"),  # exact: the case counts
    ],
)
def test_an_annotation_outside_the_domain_or_the_masked_text_is_refused_in_portuguese(
    wanted: list[Annotation], message: str
) -> None:
    with pytest.raises(AnnotationError, match=re.escape(message)):
        annotations.resolve(TEXT, wanted, ENTITIES)


def test_the_same_substring_marked_twice_covers_its_two_occurrences() -> None:
    placed = annotations.resolve("era <valor> e nao <valor>", [Annotation("valor", "<valor>")] * 2, ENTITIES)
    assert [(a["start"], a["end"]) for a in placed] == [(4, 11), (18, 25)]
    assert annotations.annotate("era <valor> e nao <valor>", placed) == (
        "era [<valor>](valor) e nao [<valor>](valor)"
    )


def test_form_rows_and_cli_options_become_annotations_and_half_filled_ones_are_refused() -> None:
    pairs = [("data", "  dia   15 "), ("", ""), ("valor", "<valor>")]
    assert annotations.from_pairs(pairs) == [Annotation("data", "dia 15"), Annotation("valor", "<valor>")]
    with pytest.raises(AnnotationError, match="Escolha a entidade do trecho “dia 15”"):
        annotations.from_pairs([("", "dia 15")])
    with pytest.raises(AnnotationError, match="Escreva o trecho do texto que é a entidade data"):
        annotations.from_pairs([("data", " ")])
    assert annotations.parse_option("data=dia 15=16") == ("data", "dia 15=16")
    with pytest.raises(AnnotationError, match="--entity entidade=trecho"):
        annotations.parse_option("dia 15")


def test_the_predicted_entities_that_fit_the_masked_text_are_the_default() -> None:
    predicted_entities = [
        ("valor", "<valor>"),
        ("data", "amanha"),
        ("cidade", "dia 15"),
        ("valor", "<valor>"),
    ]
    assert annotations.defaults(TEXT, predicted_entities, ENTITIES) == [Annotation("valor", "<valor>")]


def test_an_annotation_that_no_longer_fits_the_example_is_left_out_and_the_example_kept() -> None:
    stored = [{"entity": "data", "value": "ontem"}, {"entity": "valor", "value": "<valor>"}]
    assert annotations.annotate("paguei <valor>", stored) == "paguei [<valor>](valor)"
    assert annotations.annotate("paguei <valor>", None) == "paguei <valor>"


# ---- stored with the decision, written to the training data ------------------------------------------


def test_a_decision_with_annotations_is_stored_and_exported_in_rasa_syntax_sorted_and_stable(
    db: Database, tmp_path: Path
) -> None:
    ops = detached_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    _, first = predicted(db, c, "Paguei R$ 80,00 dia 15", "ja_paguei", 0.3)
    _, second = predicted(db, c, "paguei R$ 12,50 dia 15!", "ja_paguei", 0.35)
    _, third = predicted(db, c, "quero pagar em 3x", "renegociar", 0.3)
    marks = review.Marks([Annotation("valor", "<valor>"), Annotation("data", "dia 15")], examples.entities())
    with db.session() as s:
        assert review.confirm(s, [first, second], ops, marks) == 2
        review.relabel(s, [third], "renegociar", ops, intents=examples.intents())
    with db.session() as s:
        rows = {p.id: p for p in s.scalars(select(MessagePrediction))}
        assert rows[first].annotations == [
            {"entity": "valor", "value": "<valor>"},
            {"entity": "data", "value": "dia 15"},
        ]
        assert rows[third].annotations is None

    data_dir = copy_nlu_data(tmp_path / "nlu_data")
    with db.session() as s:
        report = examples.export(s, data_dir)
    # The two messages are one example (annotations, case and punctuation aside): the first, in order.
    assert report.added["ja_paguei"] == ["Paguei [<valor>](valor) [dia 15](data)"]
    written = (data_dir / "nlu" / "ja_paguei.yml").read_text(encoding="utf-8")
    assert "      - Paguei [<valor>](valor) [dia 15](data)\n" in written
    assert training.entity_annotations("Paguei [<valor>](valor) [dia 15](data)") == [
        ("<valor>", "valor"),
        ("dia 15", "data"),
    ]
    # The same labels give the same bytes: writing the example again changes nothing.
    again = examples.write_examples([("ja_paguei", "Paguei [<valor>](valor) [dia 15](data)")], data_dir)
    assert again.already_there == 1
    assert (data_dir / "nlu" / "ja_paguei.yml").read_text(encoding="utf-8") == written


def test_a_refused_annotation_decides_none_of_the_messages(db: Database) -> None:
    ops = detached_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    _, first = predicted(db, c, "paguei dia 15", "ja_paguei", 0.3)
    _, second = predicted(db, c, "Paguei no DIA 15", "ja_paguei", 0.3)
    intents = examples.intents()
    marks = review.Marks([Annotation("data", "paguei dia")], examples.entities())
    with db.session() as s, pytest.raises(review.ReviewError, match="não aparece"):
        # "paguei dia" is in the first text only: the first must not be decided either.
        review.relabel(s, [first, second], "ja_paguei", ops, intents=intents, marks=marks)
    with db.session() as s:
        assert set(s.scalars(select(MessagePrediction.verdict))) == {None}

    # A group's messages differ in case at most: each keeps the substring as its own text has it.
    marks = review.Marks([Annotation("data", "dia 15")], examples.entities())
    with db.session() as s:
        assert review.relabel(s, [first, second], "ja_paguei", ops, intents=intents, marks=marks) == 2
    with db.session() as s:
        stored = dict(s.execute(select(MessagePrediction.id, MessagePrediction.annotations)).all())
    assert stored == {
        first: [{"entity": "data", "value": "dia 15"}],
        second: [{"entity": "data", "value": "DIA 15"}],
    }


# ---- the console and the CLI -------------------------------------------------------------------------


def test_ops_mark_an_entity_in_the_console_and_a_refused_one_comes_back_as_they_sent_it(
    app: Flask, db: Database
) -> None:
    make_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    masked = [{"entity": "valor", "value": "<valor>", "start": 7, "end": 15}]
    message, _ = predicted(db, c, "paguei R$ 80,00 dia 15", "ja_paguei", 0.3, entities=masked)
    client = app.test_client()
    log_in(client, "ops@regua.example")
    html = client.get("/console/nlu/").get_data(as_text=True)
    key = inbox.group_key("paguei <valor> dia 15")
    # The prediction is the default: the first row holds it, the next one is empty.
    assert re.search(r'<option value="valor" selected>valor</option>', html)
    assert 'name="entity_value" value="&lt;valor&gt;"' in html
    assert 'for="entity-value-' + key + '-1">Trecho 2<' in html

    form = {
        "csrf_token": form_field(html, "csrf_token"),
        "action": "label",
        "intent": "renegociar",
        "message": [str(message)],
        "entity": ["valor", "data"],
        "entity_value": ["<valor>", "dia 16"],
    }
    refused = client.post(f"/console/nlu/grupos/{key}", data=form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "O trecho “dia 16” não aparece no texto da mensagem" in page
    assert 'value="dia 16"' in page  # what they typed is still there
    assert '<option value="renegociar" selected>' in page  # and the intent they chose
    with db.session() as s:
        assert s.scalars(select(MessagePrediction.verdict)).one() is None

    form["entity_value"] = ["<valor>", "dia 15"]
    assert client.post(f"/console/nlu/grupos/{key}", data=form).status_code == 302
    with db.session() as s:
        row = s.scalars(select(MessagePrediction)).one()
        assert (row.verdict, row.label) == (NluVerdict.RELABELLED, "renegociar")
        assert row.annotations == [
            {"entity": "valor", "value": "<valor>"},
            {"entity": "data", "value": "dia 15"},
        ]


def test_the_cli_marks_entities_with_repeatable_entity_options(cli_env: Path, db: Database) -> None:
    make_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    masked = [{"entity": "data", "value": "amanha"}]
    predicted(db, c, "pago R$ 50,00 amanha", "prometer_pagamento", 0.3, entities=masked)
    key = inbox.group_key("pago <valor> amanha")
    listing = run("nlu", "inbox")
    assert f"{key}  " in listing.output and "data='amanha'" in listing.output  # the prediction, to copy

    user = ("--user", "ops@regua.example")
    wrong = run("nlu", "inbox", "confirm", key, "--entity", "cidade=amanha", *user)
    assert wrong.exit_code != 0 and "Entidade desconhecida" in wrong.output
    malformed = run("nlu", "inbox", "confirm", key, "--entity", "amanha", *user)
    assert malformed.exit_code != 0 and "--entity entidade=trecho" in malformed.output
    done = run("nlu", "inbox", "confirm", key, "--entity", "valor=<valor>", "--entity", "data=amanha", *user)
    assert done.exit_code == 0, done.output
    with db.session() as s:
        row = s.scalars(select(MessagePrediction)).one()
        assert row.verdict is NluVerdict.CONFIRMED
        assert [a["entity"] for a in row.annotations or []] == ["valor", "data"]
