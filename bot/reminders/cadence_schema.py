"""Loading and validating a cadence file: `load_cadence` and `default_cadence`.

Every rule (the schema, the legal checks, the length limits) is described in `bot.reminders.cadence`;
a cadence that breaks one raises `CadenceError` naming the file, the step and the field.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.hours import InvalidHours
from bot.reminders import sms as sms_segments
from bot.reminders.cadence_checker import CadenceError, _Checker
from bot.reminders.cadence_model import (
    CHANNELS,
    DEFAULT_PER_DAY,
    DEFAULT_PER_WEEK,
    HOLDOUT,
    TONES,
    VERSION,
    Cadence,
    Limits,
    Step,
    Variant,
    WhatsAppTemplate,
)
from bot.reminders.forbidden import _fold
from bot.reminders.rendering import render_sms
from bot.reminders.window import LEGAL_HOURS, ContactWindow

DEFAULT_CADENCE_FILE = Path(__file__).with_name("default_cadence.yml")

MIN_OFFSET_DAYS, MAX_OFFSET_DAYS = -30, 120
MAX_PER_DAY, MAX_PER_WEEK = 3, 10
MAX_WEIGHT = 10_000
MAX_HOLDOUT = 50  # percent: a holdout is a minority that measures what the message adds
MAX_SAMPLE_SIZE = 10_000_000
SMS_MAX_CHARS = 480
SMS_WARN_CHARS = 400  # about 6 segments of UCS-2, which most pt-BR text is
OPT_OUT_WORD = "PARAR"

# What every collection message must carry (CDC art. 42-A: creditor and CNPJ; the link to pay).
REQUIRED_PLACEHOLDERS = ("credor", "cnpj", "link")

# Values a real reminder could plausibly have, used to measure SMS texts at load.
TYPICAL_VALUES: dict[str, str] = {
    "nome": "Francisca",
    "valor": "R$ 1.234,56",
    "data": "10/12/2025",
    "credor": "Loja Exemplo Eletrodomésticos",
    "cnpj": "11.222.333/0001-81",
    "link": "https://pagamentos.exemplo.com.br/p/" + "x" * 32,
}

_SID = re.compile(r"HX[0-9a-f]{32}")
_PLACEHOLDER_SID = re.compile(r"HX0{24}[0-9a-f]{8}")  # the shape of default_cadence.yml's stand-ins
# Lengths fit the outbox columns (bot.models.reminders.OutboxEntry: cadence and step_id 40, variant 20).
_ID = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,39}")
_VARIANT_ID = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,19}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_OPT_OUT = re.compile(rf"\b{OPT_OUT_WORD.lower()}\b")

_TOP_FIELDS = ("version", "name", "description", "contact_window", "limits", "steps")
_STEP_FIELDS = (
    "id", "description", "offset_days", "tone", "channels", "whatsapp", "sms", "variants", "holdout",
    "sample_size",
)  # fmt: skip
_VARIANT_FIELDS = ("id", "description", "weight", "whatsapp", "sms")
_WHATSAPP_FIELDS = ("content_sid", "variables")
_LIMIT_FIELDS = ("per_day", "per_week")


def load_cadence(source: str | os.PathLike[str], *, label: str | None = None) -> Cadence:
    """Read and validate a cadence.

    `source` is a path (a `Path`, or a str without line breaks ending in .yml or .yaml) or the YAML text
    itself. `label` names the cadence in messages (default: the file name, or "cadence" for text).
    Raises `CadenceError` on anything wrong; see `bot.reminders.cadence` for the rules."""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and source.strip().endswith((".yml", ".yaml"))
    ):
        path = Path(source)
        label = label or path.name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CadenceError(f"{label}: cannot read {path}: {error}") from None
    elif isinstance(source, str):
        text, label = source, label or "cadence"
    else:
        raise TypeError(f"load_cadence takes a path or YAML text, not {type(source).__name__}")
    return _build(_read_yaml(text, label), _Checker(label))


def _read_yaml(text: str, label: str) -> Any:
    yaml = YAML(typ="safe", pure=True)  # pure: duplicate keys are errors
    try:
        return yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = error.problem or error.context or "unreadable"
        raise CadenceError(f"{label}: not valid YAML: {problem}{where}") from None
    except YAMLError as error:
        raise CadenceError(f"{label}: not valid YAML: {error}") from None


def _build(document: Any, check: _Checker) -> Cadence:
    top = check.mapping(document, "", "the cadence", _TOP_FIELDS)
    if "version" not in top:
        raise check.error("", f"version is required (write 'version: {VERSION}')")
    if type(top["version"]) is not int or top["version"] != VERSION:
        raise check.error(
            "", f"version must be {VERSION}, got {top['version']!r} (this Régua reads version {VERSION})"
        )
    name = check.text(top.get("name"), "", "name")
    if not _NAME.fullmatch(name):
        raise check.error("", f"name must be 1-40 letters, digits, '_', '-' or '.', got {name!r}")
    description = _optional_text(check, top.get("description"), "", "description")
    contact_window = _contact_window(check, top.get("contact_window"))
    limits = _limits(check, top.get("limits"))

    raw_steps = top.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise check.error("", "steps must be a list with at least one step")
    steps: list[Step] = []
    for number, raw in enumerate(raw_steps, start=1):
        step = _step(check, raw, number)
        for other in steps:
            if other.id == step.id:
                raise check.error(f"step {step.id!r}", "id is used by another step (step ids must be unique)")
            if other.offset_days == step.offset_days:
                raise check.error(
                    f"step {step.id!r}",
                    f"offset_days {step.offset_days} is already used by step {other.id!r} (one step a day)",
                )
        steps.append(step)
    steps.sort(key=lambda s: s.offset_days)
    _check_week(check, steps, limits)
    return Cadence(
        name=name,
        steps=tuple(steps),
        limits=limits,
        contact_window=contact_window,
        description=description,
        version=VERSION,
        source=check.label,
        warnings=tuple(check.warnings),
    )


def _optional_text(check: _Checker, value: Any, where: str, field: str) -> str | None:
    return None if value is None else check.text(value, where, field)


def _contact_window(check: _Checker, value: Any) -> str | None:
    if value is None:
        return None
    text = check.text(value, "", "contact_window")
    try:
        window = ContactWindow.for_creditor(text)
    except InvalidHours as error:
        raise check.error("", f"contact_window: {error}") from None
    if window.clipped:
        check.warn(
            "", f"contact_window {text!r} goes beyond the legal window ({LEGAL_HOURS}); the excess is ignored"
        )
    return text


def _limits(check: _Checker, value: Any) -> Limits:
    if value is None:
        return Limits()
    raw = check.mapping(value, "", "limits", _LIMIT_FIELDS)
    per_day = check.integer(raw.get("per_day", DEFAULT_PER_DAY), "", "limits.per_day", 1, MAX_PER_DAY)
    per_week = check.integer(raw.get("per_week", DEFAULT_PER_WEEK), "", "limits.per_week", 1, MAX_PER_WEEK)
    if per_day > per_week:
        raise check.error("", f"limits.per_day ({per_day}) cannot exceed limits.per_week ({per_week})")
    return Limits(per_day, per_week)


def _step(check: _Checker, raw: Any, number: int) -> Step:
    where = f"step #{number}"
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"].strip():
        where = f"step {raw['id'].strip()!r}"
    raw = check.mapping(raw, where, "a step", _STEP_FIELDS)
    step_id = check.text(raw.get("id"), where, "id")
    if not _ID.fullmatch(step_id):
        raise check.error(
            where, "id must be 1-40 lowercase letters, digits, '_', '-', '+' or '.' (e.g. 'lembrete_d-3')"
        )
    offset = check.integer(raw.get("offset_days"), where, "offset_days", MIN_OFFSET_DAYS, MAX_OFFSET_DAYS)
    tone = raw.get("tone")
    if tone not in TONES:
        raise check.error(where, f"tone must be one of {', '.join(TONES)}, got {tone!r}")
    channels = _channels(check, raw.get("channels"), where)
    description = _optional_text(check, raw.get("description"), where, "description")

    sms = _sms(check, raw.get("sms"), where, "sms") if raw.get("sms") is not None else None
    whatsapp = _whatsapp(check, raw.get("whatsapp"), where) if raw.get("whatsapp") is not None else None
    variants = _variants(check, raw.get("variants"), where, channels)
    for channel, content in (("sms", sms), ("whatsapp", whatsapp)):
        overridden_by_all = bool(variants) and all(getattr(v, channel) is not None for v in variants)
        if channel in channels and content is None and not overridden_by_all:
            raise check.error(where, f"{channel} is required: the step sends on the {channel} channel")
        if channel not in channels and content is not None:
            raise check.error(where, f"{channel} is set but {channel!r} is not in channels")
    holdout = check.integer(raw.get("holdout", 0), where, "holdout", 0, MAX_HOLDOUT)
    sample_size = raw.get("sample_size")
    if sample_size is not None:
        sample_size = check.integer(sample_size, where, "sample_size", 1, MAX_SAMPLE_SIZE)
        if not variants and not holdout:
            raise check.error(
                where, "sample_size is set but the step has no experiment (no variants, no holdout)"
            )
    return Step(step_id, offset, tone, channels, sms, whatsapp, variants, description, holdout, sample_size)


def _channels(check: _Checker, value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise check.error(
            where, f"channels must be a non-empty list of {' and '.join(CHANNELS)}, got {value!r}"
        )
    for channel in value:
        if channel not in CHANNELS:
            raise check.error(where, f"channels: unknown channel {channel!r} (use {' or '.join(CHANNELS)})")
    if len(set(value)) != len(value):
        raise check.error(where, f"channels lists a channel twice: {value!r}")
    return tuple(value)


def _sms(check: _Checker, value: Any, where: str, field: str) -> str:
    text = check.text(value, where, field)
    names = check.content(text, where, field)
    missing = [p for p in REQUIRED_PLACEHOLDERS if p not in names]
    if "credor" in missing or "cnpj" in missing:
        raise check.error(
            where, f"{field} must name the creditor and its CNPJ with {{credor}} and {{cnpj}} (CDC art. 42-A)"
        )
    if missing:
        raise check.error(where, f"{field} must carry the payment link {{link}}")
    if not _OPT_OUT.search(_fold(text)[0]):
        raise check.error(
            where,
            f"{field} must tell how to stop: include the word {OPT_OUT_WORD} "
            f"(e.g. 'Para não receber mais, responda {OPT_OUT_WORD}.')",
        )
    rendered = render_sms(text, TYPICAL_VALUES)
    if len(rendered) > SMS_MAX_CHARS:
        raise check.error(
            where,
            f"{field} is {len(rendered)} characters long with typical values "
            f"(at most {SMS_MAX_CHARS}): shorten it",
        )
    if len(rendered) > SMS_WARN_CHARS:
        info = sms_segments.segments(rendered)
        check.warn(
            where,
            f"{field} is {len(rendered)} characters long with typical values "
            f"({info.segments} SMS segments, {info.encoding}); consider shortening it",
        )
    return text


def _whatsapp(check: _Checker, value: Any, where: str) -> WhatsAppTemplate:
    raw = check.mapping(value, where, "whatsapp", _WHATSAPP_FIELDS)
    sid = raw.get("content_sid")
    if not isinstance(sid, str) or not _SID.fullmatch(sid):
        raise check.error(
            where,
            f"whatsapp.content_sid must be a Twilio Content template SID, 'HX' and 32 lowercase hexadecimal "
            f"digits, got {sid!r}",
        )
    if _PLACEHOLDER_SID.fullmatch(sid):
        check.warn(
            where,
            f"whatsapp.content_sid {sid} is a placeholder: replace it with the creditor's approved template",
        )
    variables = raw.get("variables")
    if not isinstance(variables, dict) or not variables:
        raise check.error(
            where, 'whatsapp.variables must be a mapping such as {"1": "{nome}", "2": "{valor}"}'
        )
    keys = [str(key).strip() for key in variables if not isinstance(key, bool)]
    expected = [str(n) for n in range(1, len(variables) + 1)]
    if sorted(keys, key=lambda k: (len(k), k)) != expected:
        raise check.error(
            where,
            f"whatsapp.variables keys must be 1, 2, ... {len(variables)} "
            f"(Twilio's {{{{1}}}}, {{{{2}}}}, ...), got {', '.join(repr(str(k)) for k in variables)}",
        )
    pairs: list[tuple[str, str]] = []
    names: set[str] = set()
    for key, text in variables.items():
        field = f"whatsapp.variables.{str(key).strip()}"
        names.update(check.content(check.text(text, where, field), where, field))
        pairs.append((str(key).strip(), text.strip()))
    missing = [f"{{{p}}}" for p in REQUIRED_PLACEHOLDERS if p not in names]
    if missing:
        raise check.error(
            where,
            f"whatsapp.variables must carry {{credor}}, {{cnpj}} and {{link}} (CDC art. 42-A; the template "
            f"prints its variables), missing {', '.join(missing)}",
        )
    pairs.sort(key=lambda pair: int(pair[0]))
    return WhatsAppTemplate(sid, tuple(pairs))


def _variants(check: _Checker, value: Any, where: str, channels: tuple[str, ...]) -> tuple[Variant, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) < 2:
        raise check.error(
            where,
            "variants must list at least two variants (remove 'variants' to send the step's own content)",
        )
    variants: list[Variant] = []
    for number, raw in enumerate(value, start=1):
        here = f"{where}: variant #{number}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"].strip():
            here = f"{where}: variant {raw['id'].strip()!r}"
        raw = check.mapping(raw, here, "a variant", _VARIANT_FIELDS)
        variant_id = check.text(raw.get("id"), here, "id")
        if not _VARIANT_ID.fullmatch(variant_id):
            raise check.error(here, "id must be 1-20 lowercase letters, digits, '_', '-', '+' or '.'")
        if variant_id == HOLDOUT:
            raise check.error(here, f"id {HOLDOUT!r} is reserved for the step's holdout (use 'holdout: 10')")
        if any(v.id == variant_id for v in variants):
            raise check.error(here, "id is used by another variant of the step (variant ids must be unique)")
        weight = check.integer(raw.get("weight"), here, "weight", 1, MAX_WEIGHT)
        sms = _sms(check, raw["sms"], here, "sms") if raw.get("sms") is not None else None
        whatsapp = _whatsapp(check, raw["whatsapp"], here) if raw.get("whatsapp") is not None else None
        for channel, content in (("sms", sms), ("whatsapp", whatsapp)):
            if content is not None and channel not in channels:
                raise check.error(here, f"{channel} is set but {channel!r} is not in the step's channels")
        description = _optional_text(check, raw.get("description"), here, "description")
        variants.append(Variant(variant_id, weight, sms, whatsapp, description))
    return tuple(variants)


def _check_week(check: _Checker, steps: list[Step], limits: Limits) -> None:
    """Warn when more steps fall within 7 days than `limits.per_week` lets through."""
    for first in steps:
        week = [s for s in steps if first.offset_days <= s.offset_days < first.offset_days + 7]
        if len(week) > limits.per_week:
            ids = ", ".join(repr(s.id) for s in week)
            check.warn(
                "",
                f"steps {ids} fall within 7 days but limits.per_week is {limits.per_week}: "
                "some of them will be held back",
            )
            return


@functools.cache
def default_cadence() -> Cadence:
    """Régua's default cadence, `default_cadence.yml` (read once)."""
    return load_cadence(DEFAULT_CADENCE_FILE)
