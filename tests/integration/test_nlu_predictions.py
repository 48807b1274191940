"""Issue 17 §1 and §3 against the real Rasa: each message the bot answers is stored with what the served
model made of it (reported by Régua's REST channel in the same turn), and the examples the NLU inbox
writes are read back by Rasa's own YAML reader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.models import MessagePrediction, Processing
from bot.nlu_ops import examples
from bot.rasa import training
from bot.rasa.client import RasaClient
from tests.integration.conftest import Stack, new_debtor, say

pytestmark = pytest.mark.integration


def test_a_real_turn_records_intent_confidence_ranking_entities_and_model(
    stack: Stack, rasa_model: Path
) -> None:
    _, phone = new_debtor(stack.database)
    exchange = say(stack, phone, "quero parcelar em 4x")
    assert exchange.processing == Processing.DONE and exchange.texts  # the debtor got the answer
    with stack.database.session() as s:
        row = s.scalars(
            select(MessagePrediction).where(MessagePrediction.message_id == exchange.message_id)
        ).one()
        assert row.intent == "renegociar" and row.confidence is not None and 0.4 < row.confidence <= 1.0
        assert 1 <= len(row.ranking) <= 3 and row.ranking[0]["name"] == "renegociar"
        assert [r["confidence"] for r in row.ranking] == sorted(
            (r["confidence"] for r in row.ranking), reverse=True
        )
        assert {"entity": "parcelas", "value": "4x"}.items() <= row.entities[0].items()
        assert row.model_id and len(row.model_id) >= 8
        assert row.model_file and Path(row.model_file).name == rasa_model.name


def test_the_recorded_prediction_is_what_the_served_model_reads(
    stack: Stack, rasa_server: RasaClient
) -> None:
    _, phone = new_debtor(stack.database)
    text = "xqzw vbnm plok"  # whatever the model makes of it, the record says the same
    exchange = say(stack, phone, text)
    with stack.database.session() as s:
        row = s.scalars(
            select(MessagePrediction).where(MessagePrediction.message_id == exchange.message_id)
        ).one()
    parsed = rasa_server.parse(text)
    assert row.intent == parsed["intent"]["name"]
    assert row.confidence == pytest.approx(parsed["intent"]["confidence"], abs=1e-6)
    ranking = [r["name"] for r in parsed["intent_ranking"][:3]]
    assert [r["name"] for r in row.ranking] == ranking


_READ_WITH_RASA = """
import json, sys
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
data = RasaYAMLReader().read(sys.argv[1])
print(json.dumps(sorted({m.get("text") for m in data.intent_examples if m.get("intent") == sys.argv[2]})))
"""


def test_examples_written_by_the_inbox_are_read_by_rasas_yaml_reader(tmp_path: Path) -> None:
    data_dir = tmp_path / "nlu_data"
    (data_dir / "nlu").mkdir(parents=True)
    source = training.DATA_DIR / "nlu" / "ja_paguei.yml"
    (data_dir / "nlu" / "ja_paguei.yml").write_bytes(source.read_bytes())
    written = examples.write_examples(
        [
            ("ja_paguei", examples.example_text("paguei R$ 80,00 (oitenta) no pix: [ok]")),
            ("ja_paguei", "zzz já foi"),
        ],
        data_dir,
    )
    assert written.added["ja_paguei"] == ["paguei <valor> (oitenta) no pix: (ok)", "zzz já foi"]
    python = training.get_settings().rasa_bin.parent / "python"
    result = subprocess.run(
        [str(python), "-c", _READ_WITH_RASA, str(data_dir / "nlu" / "ja_paguei.yml"), "ja_paguei"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    read = set(json.loads(result.stdout.strip().splitlines()[-1]))
    hand_written = {
        training.strip_annotations(t) for t in training.nlu_examples(training.DATA_DIR)["ja_paguei"]
    }
    assert read == hand_written | {"paguei <valor> (oitenta) no pix: (ok)", "zzz já foi"}
