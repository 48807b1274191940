"""The real Rasa model: the data validates, and a served model understands messages it never saw.

None of the messages below is in nlu_data/ (test_messages_are_not_training_examples checks that).
"""

from __future__ import annotations

import pytest

from bot.conversation import entities
from bot.rasa import training
from bot.rasa.client import RasaClient

pytestmark = pytest.mark.integration

UNSEEN_MESSAGES = [
    ("kd o boleto desse mes", "segunda_via"),
    ("manda de novo o codigo pix pfv, o outro venceu", "segunda_via"),
    ("quero parcelar em 4x", "renegociar"),
    ("ja paguei ontem segue comprovante", "ja_paguei"),
    ("por favor nao me mandem mais nenhuma mensagem", "parar"),
    ("tem como eu falar com um humano de carne e osso?", "falar_atendente"),
    ("qual o valor total que eu devo hoje?", "consultar_divida"),
    ("nunca tive cartao dessa loja, nao reconheco essa divida", "contestar_divida"),
    ("vcs aceitam pagamento no cartao de credito?", "forma_pagamento"),
    ("bom dia, tudo bem?", "saudacao"),
    ("so vou ter o dinheiro dia 18, pago nesse dia", "prometer_pagamento"),
    ("quinta feira eu consigo pagar tudo", "prometer_pagamento"),
]


def _parse(rasa: RasaClient, text: str) -> dict:
    return rasa.parse(text)


def test_training_data_validates() -> None:
    training.validate()


def test_messages_are_not_training_examples() -> None:
    seen = {
        training.strip_annotations(t).lower() for texts in training.nlu_examples().values() for t in texts
    }
    assert [text for text, _ in UNSEEN_MESSAGES if text.lower() in seen] == []


def test_model_file_is_named_after_the_training_data(rasa_model) -> None:
    assert rasa_model == training.model_path()
    assert rasa_model.exists()


@pytest.mark.parametrize(("text", "intent"), UNSEEN_MESSAGES)
def test_unseen_message_gets_the_right_intent(rasa_server: RasaClient, text: str, intent: str) -> None:
    result = _parse(rasa_server, text)
    ranking = [(r["name"], round(r["confidence"], 2)) for r in result.get("intent_ranking", [])[:3]]
    assert result["intent"]["name"] == intent, f"{text!r}: {ranking}"


def test_instalments_are_extracted(rasa_server: RasaClient) -> None:
    result = _parse(rasa_server, "da pra fazer em 6 vezes?")
    assert result["intent"]["name"] == "renegociar"
    parcelas = [e for e in result["entities"] if e["entity"] == "parcelas"]
    assert parcelas, result["entities"]
    # "6 vezes" is normalised to "6x" by the EntitySynonymMapper.
    assert parcelas[0]["value"] in {"6x", "6 vezes"}


def test_money_and_date_are_extracted(rasa_server: RasaClient) -> None:
    text = "consigo pagar R$ 300 na sexta, pode ser?"
    result = _parse(rasa_server, text)
    valor = entities.first_value(text, result["entities"], "valor")
    assert valor is not None and entities.amount_cents(valor) == 30000, result["entities"]
    assert entities.first_value(text, result["entities"], "data") == "sexta", result["entities"]


def test_gibberish_does_not_get_a_confident_business_intent(rasa_server: RasaClient) -> None:
    result = _parse(rasa_server, "xq zzkw plof")
    business = {"segunda_via", "renegociar", "ja_paguei", "contestar_divida", "parar"}
    assert result["intent"]["name"] not in business or result["intent"]["confidence"] < 0.6
