"""Cadences as configuration: loading, validation (one test per rule), legal checks, rendering, variants."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.reminders.cadence import (
    DEFAULT_CADENCE_FILE,
    FORBIDDEN,
    PLACEHOLDERS,
    Cadence,
    CadenceError,
    Limits,
    RenderError,
    Step,
    Variant,
    WhatsAppTemplate,
    default_cadence,
    find_forbidden,
    load_cadence,
    pick_variant,
    render_sms,
    render_whatsapp_variables,
)
from bot.reminders.cadence_schema import SMS_MAX_CHARS, TYPICAL_VALUES
from bot.reminders.forbidden import _fold
from bot.reminders.window import ContactWindow

SID = "HX" + "0123456789abcdef" * 2
OTHER_SID = "HX" + "fedcba9876543210" * 2
SMS = (
    "Prezado(a) {nome}, a fatura de {valor} com {credor} (CNPJ {cnpj}), vencida em {data}, está em aberto. "
    "Pague em {link}. Para não receber mais, responda PARAR."
)
VARIABLES = {"1": "{nome}", "2": "{valor}", "3": "{data}", "4": "{credor}", "5": "{cnpj}", "6": "{link}"}
VALUES = {
    "nome": "Maria",
    "valor": "R$ 1.234,56",
    "data": "10/12/2025",
    "credor": "Loja Exemplo",
    "cnpj": "11.222.333/0001-81",
    "link": "https://regua.example/p/abc",
}

BASE: dict[str, Any] = {
    "version": 1,
    "name": "teste",
    "steps": [
        {
            "id": "formal_d+5",
            "offset_days": 5,
            "tone": "formal",
            "channels": ["whatsapp", "sms"],
            "whatsapp": {"content_sid": SID, "variables": dict(VARIABLES)},
            "sms": SMS,
        },
        {
            "id": "lembrete_d-3",
            "offset_days": -3,
            "tone": "amigavel",
            "channels": ["sms"],
            "sms": SMS.replace("Prezado(a) {nome}", "Olá, {nome}!"),
            "variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50, "sms": SMS}],
        },
    ],
}


def document(**changes: Any) -> dict[str, Any]:
    """A deep copy of BASE with top-level changes (a value of None removes the key)."""
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def step_doc(index: int = 0, **changes: Any) -> dict[str, Any]:
    """BASE with step `index` changed (None removes a field)."""
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            doc["steps"][index].pop(key, None)
        else:
            doc["steps"][index][key] = value
    return doc


def to_yaml(doc: Any) -> str:
    buffer = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(doc, buffer)
    return buffer.getvalue()


def load(doc: Any) -> Cadence:
    return load_cadence(to_yaml(doc), label="teste.yml")


def error_of(doc: Any) -> str:
    with pytest.raises(CadenceError) as caught:
        load(doc)
    return str(caught.value)


# --------------------------------------------------------------------------------------------------------
# The default cadence
# --------------------------------------------------------------------------------------------------------


def test_default_cadence_loads_with_the_four_steps() -> None:
    cadence = default_cadence()
    assert cadence.name == "padrao"
    assert cadence.source == "default_cadence.yml"
    assert [(s.offset_days, s.tone) for s in cadence.steps] == [
        (-3, "amigavel"),
        (1, "cordial"),
        (5, "formal"),
        (10, "negociacao"),
    ]
    assert all(s.channels == ("whatsapp", "sms") for s in cadence.steps)
    assert all(s.whatsapp is not None and s.sms for s in cadence.steps)
    assert cadence.limits == Limits(per_day=1, per_week=3)
    assert cadence.contact_window == "seg-sex 09:00-19:00"
    assert [v.id for v in cadence.step("acompanhamento_d+1").variants] == ["a", "b"]
    assert default_cadence() is cadence  # cached


def test_default_cadence_warns_only_about_its_placeholder_template_sids() -> None:
    warnings = default_cadence().warnings
    assert len(warnings) == 5  # four steps and variant b
    assert all("is a placeholder: replace it with the creditor's approved template" in w for w in warnings)


def test_default_cadence_texts_render_politely_with_every_legal_element() -> None:
    cadence = default_cadence()
    texts = 0
    for step in cadence.steps:
        for variant in (None, *step.variants):
            sms_text = step.sms_for(variant)
            assert sms_text is not None
            rendered = render_sms(sms_text, VALUES)
            for value in ("Loja Exemplo", "11.222.333/0001-81", "https://regua.example/p/abc", "PARAR"):
                assert value in rendered
            assert find_forbidden(rendered) is None
            template = step.whatsapp_for(variant)
            assert template is not None
            assert set(render_whatsapp_variables(template, VALUES).values()) >= {
                "Loja Exemplo",
                "11.222.333/0001-81",
                "https://regua.example/p/abc",
            }
            texts += 1
    assert texts == 6
    assert "quero negociar" in cadence.step("negociacao_d+10").sms.lower()


def test_default_cadence_file_is_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "reminders/*.yml" in pyproject["tool"]["setuptools"]["package-data"]["bot"]
    assert DEFAULT_CADENCE_FILE.parent.name == "reminders"


def test_load_accepts_a_path_a_path_string_and_text(tmp_path: Path) -> None:
    path = tmp_path / "loja.yml"
    path.write_text(to_yaml(BASE), encoding="utf-8")
    by_path, by_str, by_text = load_cadence(path), load_cadence(str(path)), load_cadence(to_yaml(BASE))
    assert by_path.source == by_str.source == "loja.yml"
    assert by_text.source == "cadence"
    assert by_path.steps == by_str.steps == by_text.steps


def test_missing_file_is_a_cadence_error(tmp_path: Path) -> None:
    with pytest.raises(CadenceError, match=r"nada\.yml: cannot read"):
        load_cadence(tmp_path / "nada.yml")


# --------------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------------


def test_steps_are_sorted_and_parsed_into_frozen_dataclasses() -> None:
    cadence = load(BASE)
    assert [s.id for s in cadence.steps] == ["lembrete_d-3", "formal_d+5"]
    formal = cadence.step("formal_d+5")
    assert formal == Step(
        id="formal_d+5",
        offset_days=5,
        tone="formal",
        channels=("whatsapp", "sms"),
        sms=SMS,
        whatsapp=WhatsAppTemplate(SID, tuple(VARIABLES.items())),
    )
    assert formal.whatsapp is not None
    assert formal.whatsapp.placeholders == frozenset(PLACEHOLDERS)
    reminder = cadence.step("lembrete_d-3")
    assert reminder.variant("b") == Variant("b", 50, sms=SMS)
    assert reminder.sms_for(reminder.variant("a")) == reminder.sms
    assert reminder.sms_for(reminder.variant("b")) == SMS
    assert cadence.limits == Limits(1, 3)
    assert cadence.contact_window is None
    assert cadence.warnings == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cadence.name = "outra"  # type: ignore[misc]
    with pytest.raises(KeyError):
        cadence.step("nenhum")
    hash(cadence)  # hashable all the way down


def test_whatsapp_variable_keys_may_be_numbers_and_are_kept_in_order() -> None:
    doc = step_doc(
        whatsapp={"content_sid": SID, "variables": {2: "{credor} {cnpj}", 1: "{nome}", 3: "{link}"}}
    )
    template = load(doc).step("formal_d+5").whatsapp
    assert template is not None
    assert template.variables == (("1", "{nome}"), ("2", "{credor} {cnpj}"), ("3", "{link}"))


def test_contact_window_narrows_the_legal_window() -> None:
    cadence = load(document(contact_window="seg-sex 09:00-18:00"))
    assert cadence.window == ContactWindow.for_creditor("seg-sex 09:00-18:00")
    assert cadence.warnings == ()
    assert load(BASE).window == ContactWindow.legal()


def test_contact_window_beyond_the_legal_one_is_a_warning() -> None:
    cadence = load(document(contact_window="seg-sab 07:00-22:00"))
    assert len(cadence.warnings) == 1
    assert (
        "teste.yml: contact_window 'seg-sab 07:00-22:00' goes beyond the legal window" in cadence.warnings[0]
    )


def test_more_steps_in_a_week_than_the_limit_is_a_warning() -> None:
    doc = copy.deepcopy(BASE)
    for number, offset in enumerate((6, 7, 8)):
        extra = copy.deepcopy(BASE["steps"][0])
        extra.update(id=f"extra{number}", offset_days=offset)
        doc["steps"].append(extra)
    warnings = load(doc).warnings
    assert len(warnings) == 1
    assert "fall within 7 days but limits.per_week is 3" in warnings[0]


def test_long_sms_is_a_warning_before_it_is_an_error() -> None:
    padding = " Obrigado pela atenção."
    text = SMS
    while len(render_sms(text + padding, TYPICAL_VALUES)) <= 400:
        text += padding
    warnings = load(step_doc(sms=text + padding)).warnings
    assert len(warnings) == 1
    assert "step 'formal_d+5': sms is" in warnings[0] and "SMS segments, UCS-2" in warnings[0]


# --------------------------------------------------------------------------------------------------------
# Validation: one test per rule
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (["not", "a", "mapping"], "teste.yml: the cadence must be a mapping"),
        (document(version=None), "teste.yml: version is required"),
        (document(version=2), "teste.yml: version must be 1, got 2"),
        (document(version="1"), "version must be 1, got '1'"),
        (document(version=1.0), "version must be 1, got 1.0"),
        (document(version=True), "version must be 1, got True"),
        ("", "teste.yml: the cadence must be a mapping"),
        (document(name=None), "teste.yml: name must be a non-empty text"),
        (document(name="minha régua"), "name must be 1-40 letters, digits"),
        (document(name="x" * 41), "name must be 1-40 letters, digits"),
        (document(extra=1), "teste.yml: unknown field 'extra' in the cadence"),
        (document(steps=[]), "teste.yml: steps must be a list with at least one step"),
        (document(steps={"id": "x"}), "steps must be a list"),
    ],
)
def test_top_level_rules(doc: Any, fragment: str) -> None:
    assert fragment in error_of(doc)


@pytest.mark.parametrize(
    ("limits", "fragment"),
    [
        ({"per_day": 0}, "limits.per_day must be between 1 and 3, got 0"),
        ({"per_day": 4, "per_week": 10}, "limits.per_day must be between 1 and 3, got 4"),
        ({"per_week": "3"}, "limits.per_week must be a whole number between 1 and 10, got '3'"),
        ({"per_week": 11}, "limits.per_week must be between 1 and 10, got 11"),
        ({"per_day": 2, "per_week": 1}, "limits.per_day (2) cannot exceed limits.per_week (1)"),
        ({"per_month": 5}, "unknown field 'per_month' in limits"),
        ([1, 3], "limits must be a mapping"),
    ],
)
def test_limits_rules(limits: Any, fragment: str) -> None:
    assert fragment in error_of(document(limits=limits))


def test_limits_default_to_one_a_day_and_three_a_week() -> None:
    assert load(document(limits={"per_week": 5})).limits == Limits(1, 5)


@pytest.mark.parametrize(
    ("window", "fragment"),
    [
        ("todo dia 8h", "teste.yml: contact_window: cannot read 'todo dia 8h'"),
        ("seg-sex 18:00-09:00", "the opening must come before the closing time"),
        ("dom 10:00-12:00", "leaves no time inside the legal window"),
        ("", "contact_window must be a non-empty text"),
    ],
)
def test_contact_window_rules(window: str, fragment: str) -> None:
    assert fragment in error_of(document(contact_window=window))


def test_step_ids_must_be_unique() -> None:
    doc = step_doc(1, id="formal_d+5")
    assert "teste.yml: step 'formal_d+5': id is used by another step" in error_of(doc)


def test_step_id_must_be_a_slug() -> None:
    assert "step 'Lembrete D-3': id must be 1-40 lowercase letters" in error_of(step_doc(id="Lembrete D-3"))
    assert "id must be 1-40 lowercase letters" in error_of(step_doc(id="d" * 41))
    assert load(step_doc(id="d" * 40)).steps[1].id == "d" * 40


def test_step_without_id_is_named_by_position() -> None:
    assert "teste.yml: step #1: id must be a non-empty text" in error_of(step_doc(id=None))


def test_one_step_per_day() -> None:
    message = error_of(step_doc(1, offset_days=5))
    assert "step 'lembrete_d-3': offset_days 5 is already used by step 'formal_d+5'" in message


@pytest.mark.parametrize(
    ("offset", "fragment"),
    [
        (None, "offset_days must be a whole number between -30 and 120, got None"),
        ("5", "offset_days must be a whole number between -30 and 120, got '5'"),
        (5.0, "offset_days must be a whole number between -30 and 120, got 5.0"),
        (True, "offset_days must be a whole number between -30 and 120, got True"),
        (-31, "offset_days must be between -30 and 120, got -31"),
        (121, "offset_days must be between -30 and 120, got 121"),
    ],
)
def test_offset_days_rules(offset: Any, fragment: str) -> None:
    doc = step_doc(offset_days=offset) if offset is not None else step_doc(offset_days=None)
    assert f"teste.yml: step 'formal_d+5': {fragment}" in error_of(doc)


def test_offset_days_limits_are_accepted() -> None:
    doc = step_doc(offset_days=120)
    doc["steps"][1]["offset_days"] = -30
    assert [s.offset_days for s in load(doc).steps] == [-30, 120]


@pytest.mark.parametrize("tone", ["amigável", "agressivo", None, ""])
def test_tone_must_be_known(tone: Any) -> None:
    doc = step_doc(tone=tone) if tone is not None else step_doc(tone=None)
    assert "step 'formal_d+5': tone must be one of amigavel, cordial, formal, negociacao" in error_of(doc)


@pytest.mark.parametrize(
    ("channels", "fragment"),
    [
        ([], "channels must be a non-empty list of whatsapp and sms"),
        ("sms", "channels must be a non-empty list"),
        (["whatsapp", "email"], "channels: unknown channel 'email'"),
        (["sms", "sms"], "channels lists a channel twice"),
    ],
)
def test_channels_rules(channels: Any, fragment: str) -> None:
    assert f"step 'formal_d+5': {fragment}" in error_of(step_doc(channels=channels))


def test_whatsapp_channel_needs_a_template() -> None:
    message = error_of(step_doc(whatsapp=None))
    assert "step 'formal_d+5': whatsapp is required: the step sends on the whatsapp channel" in message


def test_sms_channel_needs_a_text() -> None:
    assert "step 'formal_d+5': sms is required: the step sends on the sms channel" in error_of(
        step_doc(sms=None)
    )


def test_content_for_an_unused_channel_is_an_error() -> None:
    assert "step 'formal_d+5': sms is set but 'sms' is not in channels" in error_of(
        step_doc(channels=["whatsapp"])
    )
    assert "whatsapp is set but 'whatsapp' is not in channels" in error_of(step_doc(channels=["sms"]))


def test_unknown_step_field_is_an_error() -> None:
    assert "step 'formal_d+5': unknown field 'smss' in a step" in error_of(step_doc(smss="Olá"))


@pytest.mark.parametrize(
    "sid",
    [
        "HX" + "0123456789ABCDEF" * 2,  # upper case
        "HX" + "0" * 31,  # short
        "MG" + "0" * 32,  # a Messaging Service, not a template
        "HX" + "g" * 32,
        None,
    ],
)
def test_content_sid_must_be_hx_and_32_hex_digits(sid: Any) -> None:
    template = {"variables": dict(VARIABLES)} | ({"content_sid": sid} if sid else {})
    message = error_of(step_doc(whatsapp=template))
    assert "step 'formal_d+5': whatsapp.content_sid must be a Twilio Content template SID" in message


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({}, "whatsapp.variables must be a mapping"),
        (["{nome}"], "whatsapp.variables must be a mapping"),
        ({"1": "{credor}", "3": "{cnpj} {link}"}, "whatsapp.variables keys must be 1, 2, ... 2"),
        ({"0": "{credor}", "1": "{cnpj} {link}"}, "whatsapp.variables keys must be 1, 2"),
        (
            {"1": "{nome}", "2": "{valor}", "3": "{link}"},
            "whatsapp.variables must carry {credor}, {cnpj} and {link}",
        ),
        ({"1": "{credor}", "2": "{cnpj}"}, "whatsapp.variables must carry {credor}, {cnpj} and {link}"),
        ({"1": "{credor} {cnpj} {link}", "2": ""}, "whatsapp.variables.2 must be a non-empty text"),
        (
            {"1": "{credor} {cnpj} {link}", "2": "{multa}"},
            "whatsapp.variables.2 uses unknown placeholder {multa}",
        ),
    ],
)
def test_whatsapp_variables_rules(variables: Any, fragment: str) -> None:
    message = error_of(step_doc(whatsapp={"content_sid": SID, "variables": variables}))
    assert f"teste.yml: step 'formal_d+5': {fragment}" in message


def test_unknown_whatsapp_field_is_an_error() -> None:
    doc = step_doc(whatsapp={"content_sid": SID, "variables": dict(VARIABLES), "body": "Olá"})
    assert "unknown field 'body' in whatsapp" in error_of(doc)


def test_sms_unknown_placeholder_names_file_step_and_field() -> None:
    message = error_of(step_doc(sms=SMS + " Multa: {multa}."))
    assert message.startswith(
        "teste.yml: step 'formal_d+5': sms uses unknown placeholder {multa} (allowed: {nome},"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            SMS.replace("{valor}", "{valor:>10}"),
            "sms: placeholder {valor} may not carry a format or conversion",
        ),
        (SMS.replace("{nome}", "{nome!r}"), "sms: placeholder {nome} may not carry a format or conversion"),
        (SMS.replace("{nome}", "{nome.upper}"), "sms uses unknown placeholder {nome.upper}"),
        (SMS.replace("{nome}", "{0}"), "sms uses unknown placeholder {0}"),
        (SMS + " {", "sms has an unmatched '{' or '}'"),
        (SMS + " }", "sms has an unmatched '{' or '}'"),
    ],
)
def test_sms_placeholder_syntax(text: str, fragment: str) -> None:
    assert f"step 'formal_d+5': {fragment}" in error_of(step_doc(sms=text))


def test_literal_braces_are_allowed() -> None:
    text = SMS + " Código {{promo}}."
    assert render_sms(load(step_doc(sms=text)).step("formal_d+5").sms or "", VALUES).endswith(
        "Código {promo}."
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            SMS.replace(" com {credor}", ""),
            "sms must name the creditor and its CNPJ with {credor} and {cnpj}",
        ),
        (SMS.replace(" (CNPJ {cnpj})", ""), "sms must name the creditor and its CNPJ"),
        (SMS.replace("Pague em {link}. ", ""), "sms must carry the payment link {link}"),
        (SMS.replace(" Para não receber mais, responda PARAR.", ""), "sms must tell how to stop"),
        (SMS.replace("PARAR", "PARA"), "sms must tell how to stop: include the word PARAR"),
        (SMS.replace("PARAR", "PARARAM"), "sms must tell how to stop: include the word PARAR"),
    ],
)
def test_sms_legal_content(text: str, fragment: str) -> None:
    assert f"teste.yml: step 'formal_d+5': {fragment}" in error_of(step_doc(sms=text))


def test_opt_out_word_is_case_insensitive() -> None:
    load(step_doc(sms=SMS.replace("PARAR", "Parar")))


def test_sms_longer_than_the_limit_after_rendering_is_an_error() -> None:
    text = SMS + " Obrigado." * 40
    message = error_of(step_doc(sms=text))
    assert f"step 'formal_d+5': sms is {len(render_sms(text, TYPICAL_VALUES))} characters long" in message
    assert f"(at most {SMS_MAX_CHARS})" in message


@pytest.mark.parametrize(
    ("variants", "fragment"),
    [
        ([{"id": "a", "weight": 1}], "variants must list at least two variants"),
        ({"a": 1}, "variants must list at least two variants"),
        ([{"id": "a", "weight": 1}, {"id": "a", "weight": 1}], "variant 'a': id is used by another variant"),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": 0}],
            "variant 'b': weight must be between 1 and 10000",
        ),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": -5}],
            "variant 'b': weight must be between 1 and 10000",
        ),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": "50"}],
            "variant 'b': weight must be a whole number",
        ),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": 1.5}],
            "variant 'b': weight must be a whole number",
        ),
        ([{"id": "a", "weight": 1}, {"id": "b"}], "variant 'b': weight must be a whole number"),
        ([{"id": "a", "weight": 1}, {"weight": 1}], "variant #2: id must be a non-empty text"),
        ([{"id": "a", "weight": 1}, {"id": "B!", "weight": 1}], "variant 'B!': id must be 1-20"),
        (
            [{"id": "a", "weight": 1}, {"id": "b" * 21, "weight": 1}],
            f"variant '{'b' * 21}': id must be 1-20 lowercase",
        ),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": 1, "tone": "formal"}],
            "variant 'b': unknown field 'tone' in a variant",
        ),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": 1, "sms": SMS.replace("PARAR", "SAIR")}],
            "variant 'b': sms must tell how to stop",
        ),
        (
            [{"id": "a", "weight": 1}, {"id": "b", "weight": 1, "sms": SMS + " {multa}"}],
            "variant 'b': sms uses unknown placeholder {multa}",
        ),
    ],
)
def test_variant_rules(variants: Any, fragment: str) -> None:
    assert f"teste.yml: step 'lembrete_d-3': {fragment}" in error_of(step_doc(1, variants=variants))


def test_variant_may_not_override_a_channel_the_step_does_not_use() -> None:
    variants = [
        {"id": "a", "weight": 1},
        {"id": "b", "weight": 1, "whatsapp": {"content_sid": SID, "variables": dict(VARIABLES)}},
    ]
    message = error_of(step_doc(1, variants=variants))
    assert (
        "step 'lembrete_d-3': variant 'b': whatsapp is set but 'whatsapp' is not in the step's channels"
        in message
    )


def test_variant_whatsapp_is_validated_and_used() -> None:
    variants = [
        {"id": "a", "weight": 1},
        {"id": "b", "weight": 3, "whatsapp": {"content_sid": OTHER_SID, "variables": dict(VARIABLES)}},
    ]
    step = load(step_doc(0, variants=variants)).step("formal_d+5")
    assert step.whatsapp_for(step.variant("a")) == step.whatsapp
    template = step.whatsapp_for(step.variant("b"))
    assert template is not None and template.content_sid == OTHER_SID
    variants[1]["whatsapp"] = {"content_sid": "HX123", "variables": dict(VARIABLES)}
    assert "step 'formal_d+5': variant 'b': whatsapp.content_sid must be" in error_of(
        step_doc(0, variants=variants)
    )


def test_step_without_own_sms_is_fine_when_every_variant_has_one() -> None:
    variants = [
        {"id": "a", "weight": 1, "sms": SMS},
        {"id": "b", "weight": 1, "sms": SMS.replace("Pague", "Pague já")},
    ]
    step = load(step_doc(1, sms=None, variants=variants)).step("lembrete_d-3")
    assert step.sms is None
    assert step.sms_for(step.variant("b")) == variants[1]["sms"]
    variants[1].pop("sms")
    assert "step 'lembrete_d-3': sms is required" in error_of(step_doc(1, sms=None, variants=variants))


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(CadenceError, match=r"^teste\.yml: not valid YAML: .*\(line 4, column 1\)"):
        load_cadence("version: 1\nname: x\nsteps: [\n", label="teste.yml")


def test_duplicate_yaml_keys_are_an_error() -> None:
    with pytest.raises(CadenceError, match=r'teste\.yml: not valid YAML: found duplicate key "name"'):
        load_cadence("version: 1\nname: x\nname: y\nsteps: []\n", label="teste.yml")


def test_cadence_error_is_a_value_error() -> None:
    assert issubclass(CadenceError, ValueError)


# --------------------------------------------------------------------------------------------------------
# Forbidden phrasings
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", FORBIDDEN, ids=lambda rule: rule.example)
def test_every_forbidden_rule_catches_its_example(rule: Any) -> None:
    assert rule.pattern.search(_fold(rule.example)[0])
    assert find_forbidden(rule.example) is not None


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Evite uma AÇÃO JUDICIAL.", "AÇÃO JUDICIAL"),
        ("evite uma acao judicial", "acao judicial"),
        ("Evite uma Ação\n  Judicial.", "Ação\n  Judicial"),
        ("Risco de PRISÃO.", "PRISÃO"),
        ("risco de prisao", "prisao"),
        ("Evite a Negativação!", "Negativação"),
        ("NEGATIVACAO do CPF", "NEGATIVACAO"),
        ("Seu nome no Serasa", "Serasa"),
        ("consulta ao spc", "spc"),
        ("Não fique com o NOME SUJO", "NOME SUJO"),
        ("Última Chance!", "Última Chance"),
        ("ultima oportunidade", "ultima oportunidade"),
        ("Você será processado.", "Você será processado"),
        ("Abriremos um processo.", "processo"),
        ("Vamos processá-lo.", "processá-lo"),
        ("enviado ao Jurídico", "Jurídico"),
        ("Seu caso irá a protesto", "protesto"),
        ("Título protestado em cartório", "protestado"),
        ("Chamaremos a polícia", "polícia"),
        ("Você pode ir para a cadeia", "cadeia"),
        ("Que vergonha!", "vergonha"),
        ("Não se envergonhe", "envergonhe"),
        ("Vamos cobrar na sua casa", "na sua casa"),
        ("Ligaremos no seu trabalho", "no seu trabalho"),
        ("Seus vizinhos vão saber", "vizinhos"),
        ("Falaremos com seu chefe", "seu chefe"),
        ("Prezado DEVEDOR", "DEVEDOR"),
        ("Caloteira!", "Caloteira"),
        ("Você é inadimplente", "inadimplente"),
        ("Tomaremos as medidas cabíveis", "medidas cabíveis"),
        ("URGENTE", "URGENTE"),
    ],
)
def test_forbidden_phrases_are_caught_whatever_the_case_and_accents(text: str, phrase: str) -> None:
    found = find_forbidden(text)
    assert found is not None
    assert found[0] == phrase


@pytest.mark.parametrize(
    "text",
    [
        "Seu pagamento está em processamento.",
        "O pagamento foi processado com sucesso.",
        "Processamos o seu pedido.",
        "Somos uma empresa protestante.",
        "Se a resposta for negativa, tudo bem.",
        "Seu saldo ficou negativo.",
        "Objetos dados em penhor.",
        "Sente-se na cadeira.",
        "Temos um presente para você.",
        "Vamos apresentar as opções.",
        "Atualize seu cadastro.",
        "Conversa íntima e segura.",
        "Você deve R$ 10,00; o valor devido vence amanhã.",
        "Pague sem sair de casa.",
        "Sua empresa tem condições especiais.",
        "Um valor justo para você.",
        "Precisamos da sua atenção.",
        "Pague com Pix ou boleto.",
        "Se já pagou, desconsidere. Para não receber mais, responda PARAR.",
        "Pedimos que regularize o pagamento.",
        "Os últimos dígitos do seu CPF.",
        "Seu número de série e o seu CPF.",
    ],
)
def test_innocent_words_are_not_forbidden(text: str) -> None:
    assert find_forbidden(text) is None


def test_forbidden_phrase_in_sms_names_the_phrase_and_the_step() -> None:
    message = error_of(step_doc(sms=SMS.replace("Pague em", "Evite uma Ação Judicial: pague em")))
    assert message.startswith("teste.yml: step 'formal_d+5': sms contains forbidden phrasing 'Ação Judicial'")
    assert "threat of legal action" in message


def test_forbidden_phrase_in_a_variant_is_caught() -> None:
    variants = [{"id": "a", "weight": 1}, {"id": "b", "weight": 1, "sms": "ÚLTIMA CHANCE! " + SMS}]
    message = error_of(step_doc(1, variants=variants))
    assert "step 'lembrete_d-3': variant 'b': sms contains forbidden phrasing 'ÚLTIMA CHANCE'" in message


def test_forbidden_phrase_in_a_whatsapp_variable_is_caught() -> None:
    variables = dict(VARIABLES) | {"1": "{nome}, evite o SPC"}
    message = error_of(step_doc(whatsapp={"content_sid": SID, "variables": variables}))
    assert "step 'formal_d+5': whatsapp.variables.1 contains forbidden phrasing 'SPC'" in message


def test_placeholder_values_are_not_checked_for_phrasing() -> None:
    # A debtor or creditor named like a forbidden word does not make the text threatening.
    assert "Justiça" in render_sms(SMS, VALUES | {"nome": "Justiça"})


# --------------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------------


def test_render_sms_fills_every_placeholder() -> None:
    text = " ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    assert render_sms(text, VALUES) == " ".join(VALUES[name] for name in PLACEHOLDERS)
    assert render_sms(SMS, VALUES) == (
        "Prezado(a) Maria, a fatura de R$ 1.234,56 com Loja Exemplo (CNPJ 11.222.333/0001-81), vencida em "
        "10/12/2025, está em aberto. Pague em https://regua.example/p/abc. Para não receber mais, "
        "responda PARAR."
    )


def test_render_sms_reports_every_missing_value() -> None:
    values = {k: v for k, v in VALUES.items() if k not in ("link", "cnpj")}
    with pytest.raises(RenderError, match=r"^sms: no value for \{cnpj\}, \{link\}$"):
        render_sms(SMS, values)


def test_render_sms_refuses_empty_and_non_text_values() -> None:
    with pytest.raises(RenderError, match=r"the value for \{link\} is empty"):
        render_sms(SMS, VALUES | {"link": "  "})
    with pytest.raises(TypeError, match=r"the value for \{valor\} must be str, not int"):
        render_sms(SMS, VALUES | {"valor": 123456})  # type: ignore[dict-item]


def test_render_sms_does_not_expand_placeholders_inside_values() -> None:
    assert render_sms("Olá, {nome}!", VALUES | {"nome": "{link}"}) == "Olá, {link}!"


def test_render_sms_rejects_broken_text() -> None:
    with pytest.raises(RenderError, match="unmatched"):
        render_sms("Olá, {nome", VALUES)


def test_render_whatsapp_variables() -> None:
    template = WhatsAppTemplate(SID, (("1", "{nome}"), ("2", "{credor} (CNPJ {cnpj})"), ("3", "{link}")))
    assert render_whatsapp_variables(template, VALUES) == {
        "1": "Maria",
        "2": "Loja Exemplo (CNPJ 11.222.333/0001-81)",
        "3": "https://regua.example/p/abc",
    }
    spaced = render_whatsapp_variables(template, VALUES | {"nome": "Maria\n\tda   Silva"})
    assert spaced["1"] == "Maria da Silva"  # WhatsApp refuses line breaks, tabs and runs of spaces


def test_render_whatsapp_variables_fails_on_a_missing_value() -> None:
    template = WhatsAppTemplate(SID, (("1", "{nome}"), ("2", "{link}")))
    with pytest.raises(RenderError, match=r"^whatsapp variable 2: no value for \{link\}$"):
        render_whatsapp_variables(template, {"nome": "Maria"})


# --------------------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------------------


def _step_with(*weights: int) -> Step:
    variants = tuple(Variant(chr(ord("a") + i), weight) for i, weight in enumerate(weights))
    return Step("passo", 1, "cordial", ("sms",), sms=SMS, variants=variants)


def test_pick_variant_without_variants_is_none() -> None:
    assert pick_variant(Step("passo", 1, "cordial", ("sms",), sms=SMS), "42:passo") is None


def test_pick_variant_is_deterministic_and_follows_the_documented_rule() -> None:
    step = _step_with(50, 30, 20)
    for invoice_id in range(200):
        key = f"{invoice_id}:passo"
        chosen = pick_variant(step, key)
        assert chosen is pick_variant(step, key)
        point = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 100
        expected = "a" if point < 50 else "b" if point < 80 else "c"
        assert chosen is not None and chosen.id == expected


def test_pick_variant_is_stable_across_loads() -> None:
    first = default_cadence().step("acompanhamento_d+1")
    again = load_cadence(DEFAULT_CADENCE_FILE).step("acompanhamento_d+1")
    keys = [f"{n}:acompanhamento_d+1" for n in range(100)]
    assert [pick_variant(first, k) for k in keys] == [pick_variant(again, k) for k in keys]


@pytest.mark.parametrize("weights", [(50, 50), (70, 20, 10), (1, 3)])
def test_pick_variant_matches_the_weights(weights: tuple[int, ...]) -> None:
    step = _step_with(*weights)
    counts = Counter(pick_variant(step, f"{n}:passo").id for n in range(10_000))  # type: ignore[union-attr]
    total = sum(weights)
    for variant in step.variants:
        share = counts[variant.id] / 10_000
        assert abs(share - variant.weight / total) <= 0.03, (variant.id, share)


def test_pick_variant_needs_a_key() -> None:
    with pytest.raises(ValueError, match="non-empty str key"):
        pick_variant(_step_with(1, 1), "")
