"""Static checks of the Rasa training data (pure Python: reads the YAML, never imports Rasa).

Each check is a small function that returns the problems it finds; the tests run it on the real data and
on a deliberately broken copy, so a check that can never fail would be caught.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.config import PROJECT_ROOT
from bot.rasa import training

EXPECTED_INTENTS = {
    "saudacao",
    "despedida",
    "agradecer",
    "afirmar",
    "negar",
    "segunda_via",
    "consultar_divida",
    "renegociar",
    "ja_paguei",
    "contestar_divida",
    "prometer_pagamento",
    "falar_atendente",
    "parar",
    "forma_pagamento",
    "fora_de_escopo",
}
EXPECTED_ENTITIES = {"valor", "data", "parcelas"}
MIN_EXAMPLES = 40

_yaml = YAML(typ="safe")


def _normalise(example: str) -> str:
    return " ".join(training.strip_annotations(example).lower().split())


def _rules(data_dir: Path) -> list[dict]:
    rules: list[dict] = []
    for path in sorted(data_dir.rglob("*.yml")):
        rules.extend((_yaml.load(path) or {}).get("rules") or [])
    return rules


# ---- checks: each returns a list of problems -----------------------------------------------------------


def missing_or_extra_intents(found: set[str]) -> list[str]:
    problems = [f"missing intent {name}" for name in sorted(EXPECTED_INTENTS - found)]
    problems += [f"unexpected intent {name}" for name in sorted(found - EXPECTED_INTENTS)]
    return problems


def too_few_examples(examples: dict[str, list[str]]) -> list[str]:
    problems = []
    for intent, texts in sorted(examples.items()):
        unique = {_normalise(t) for t in texts}
        if len(unique) < MIN_EXAMPLES:
            problems.append(f"{intent}: {len(unique)} unique examples, need {MIN_EXAMPLES}")
    return problems


def duplicates_within_intents(examples: dict[str, list[str]]) -> list[str]:
    problems = []
    for intent, texts in sorted(examples.items()):
        counts = Counter(_normalise(t) for t in texts)
        problems += [f"{intent}: {text!r} appears {n} times" for text, n in counts.items() if n > 1]
    return problems


def duplicates_across_intents(examples: dict[str, list[str]]) -> list[str]:
    owners: dict[str, set[str]] = {}
    for intent, texts in examples.items():
        for text in texts:
            owners.setdefault(_normalise(text), set()).add(intent)
    return [
        f"{text!r} is in {sorted(intents)}" for text, intents in sorted(owners.items()) if len(intents) > 1
    ]


def unknown_entities(examples: dict[str, list[str]]) -> list[str]:
    problems = []
    for intent, texts in sorted(examples.items()):
        for text in texts:
            problems += [
                f"{intent}: {text!r} annotates {span!r} as {entity!r}"
                for span, entity in training.entity_annotations(text)
                if entity not in EXPECTED_ENTITIES
            ]
    return problems


def intents_without_rule(domain_intents: set[str], rules: list[dict]) -> list[str]:
    ruled = set()
    for rule in rules:
        steps = rule.get("steps") or []
        if steps and "intent" in steps[0] and any("action" in step for step in steps[1:]):
            ruled.add(steps[0]["intent"])
    return [f"intent {name} has no rule" for name in sorted(domain_intents - ruled)]


# ---- the real data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples() -> dict[str, list[str]]:
    return training.nlu_examples()


@pytest.fixture(scope="module")
def domain() -> dict:
    return _yaml.load(PROJECT_ROOT / "domain.yml")


def test_nlu_data_has_exactly_the_expected_intents(examples: dict[str, list[str]]) -> None:
    assert missing_or_extra_intents(set(examples)) == []


def test_domain_has_exactly_the_expected_intents(domain: dict) -> None:
    assert missing_or_extra_intents(set(domain["intents"])) == []


def test_domain_declares_only_the_expected_entities(domain: dict) -> None:
    assert set(domain.get("entities") or []) == EXPECTED_ENTITIES


def test_every_intent_has_enough_unique_examples(examples: dict[str, list[str]]) -> None:
    assert too_few_examples(examples) == []


def test_no_example_is_repeated_within_an_intent(examples: dict[str, list[str]]) -> None:
    assert duplicates_within_intents(examples) == []


def test_no_example_belongs_to_two_intents(examples: dict[str, list[str]]) -> None:
    assert duplicates_across_intents(examples) == []


def test_entity_annotations_use_only_known_entities(examples: dict[str, list[str]]) -> None:
    assert unknown_entities(examples) == []


def test_each_entity_is_annotated_somewhere(examples: dict[str, list[str]]) -> None:
    used = {
        entity
        for texts in examples.values()
        for text in texts
        for _, entity in training.entity_annotations(text)
    }
    assert used == EXPECTED_ENTITIES


def test_every_domain_intent_has_a_rule(domain: dict) -> None:
    assert intents_without_rule(set(domain["intents"]), _rules(training.DATA_DIR)) == []


def _rule_actions(rules: list[dict]) -> dict[str, str]:
    """The action each single-intent rule answers with, by intent (nlu_fallback included)."""
    answers = {}
    for rule in rules:
        steps = rule["steps"]
        if len(steps) == 2 and "intent" in steps[0] and "action" in steps[1]:
            answers[steps[0]["intent"]] = steps[1]["action"]
    return answers


def test_every_intent_is_answered_by_a_declared_response_or_action(domain: dict) -> None:
    answers = _rule_actions(_rules(training.DATA_DIR))
    declared = set(domain["responses"]) | set(domain.get("actions") or [])
    assert {i: a for i, a in answers.items() if a not in declared} == {}
    assert answers["nlu_fallback"] == "action_fallback"
    # The intents that need the debtor's data or change state are custom actions, not static text.
    business = ("segunda_via", "consultar_divida", "forma_pagamento", "parar", "falar_atendente")
    for intent in (*business, "renegociar", "ja_paguei", "contestar_divida", "prometer_pagamento"):
        assert answers[intent] == f"action_{intent}"


def test_every_custom_action_is_implemented_with_its_domain_name(domain: dict) -> None:
    import inspect

    from rasa_sdk import Action

    from actions import actions as module

    implemented = {
        cls().name()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Action) and cls is not Action
    }
    assert implemented == set(domain["actions"])


# ---- the checks catch broken data ----------------------------------------------------------------------


BROKEN_NLU = """\
version: "3.1"
nlu:
  - intent: saudacao
    examples: |
      - oi
      - Oi
      - quero parcelar em [3x](parcelas)
  - intent: renegociar
    examples: |
      - quero parcelar em [3x](parcelas)
      - pago [R$ 50](dinheiro) hoje
  - intent: cantar
    examples: |
      - canta uma musica
"""

BROKEN_RULES = """\
version: "3.1"
rules:
  - rule: only saudacao
    steps:
      - intent: saudacao
      - action: utter_saudacao
"""


@pytest.fixture()
def broken_data(tmp_path: Path) -> Path:
    (tmp_path / "nlu.yml").write_text(BROKEN_NLU)
    (tmp_path / "rules.yml").write_text(BROKEN_RULES)
    return tmp_path


def test_checks_detect_broken_data(broken_data: Path) -> None:
    examples = training.nlu_examples(broken_data)
    assert set(examples) == {"saudacao", "renegociar", "cantar"}

    problems = missing_or_extra_intents(set(examples))
    assert "missing intent parar" in problems
    assert "unexpected intent cantar" in problems

    assert len(too_few_examples(examples)) == 3
    assert duplicates_within_intents(examples) == ["saudacao: 'oi' appears 2 times"]
    assert duplicates_across_intents(examples) == ["'quero parcelar em 3x' is in ['renegociar', 'saudacao']"]
    assert unknown_entities(examples) == [
        "renegociar: 'pago [R$ 50](dinheiro) hoje' annotates 'R$ 50' as 'dinheiro'"
    ]
    assert intents_without_rule({"saudacao", "renegociar"}, _rules(broken_data)) == [
        "intent renegociar has no rule"
    ]


def test_annotation_helpers() -> None:
    text = 'pago [R$ 250](valor) [hoje](data) em [tres vezes]{"entity": "parcelas", "value": "3x"}'
    assert training.strip_annotations(text) == "pago R$ 250 hoje em tres vezes"
    assert training.entity_annotations(text) == [
        ("R$ 250", "valor"),
        ("hoje", "data"),
        ("tres vezes", "parcelas"),
    ]
