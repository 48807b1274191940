"""Filling a cadence's texts for one reminder (`render_sms`, `render_whatsapp_variables`) and choosing a
step's A/B variant (`pick_variant`). The placeholders are described in `bot.reminders.cadence`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from bot.reminders.cadence_model import Step, Variant, WhatsAppTemplate, _parse


class RenderError(ValueError):
    """A text cannot be rendered: a placeholder has no value (or an empty one)."""


def _render(text: str, values: Mapping[str, str], what: str) -> str:
    try:
        parsed = _parse(text)
    except ValueError:
        raise RenderError(f"{what}: unmatched '{{' or '}}' in the text") from None
    out: list[str] = []
    missing: list[str] = []
    for literal, name, spec, conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        if spec or conversion:
            raise RenderError(f"{what}: placeholder {{{name}}} may not carry a format or conversion")
        value = values.get(name)
        if value is None:
            missing.append(name)
            continue
        if not isinstance(value, str):
            raise TypeError(f"{what}: the value for {{{name}}} must be str, not {type(value).__name__}")
        if not value.strip():
            raise RenderError(f"{what}: the value for {{{name}}} is empty")
        out.append(value)
    if missing:
        names = ", ".join(f"{{{name}}}" for name in dict.fromkeys(missing))
        raise RenderError(f"{what}: no value for {names}")
    return "".join(out)


def render_sms(text: str, values: Mapping[str, str]) -> str:
    """`text` (a step's or variant's `sms`) with its placeholders filled from `values`.

    Raises `RenderError` when a placeholder has no value or an empty one, `TypeError` for a non-str value.
    Values are inserted as they are, never read as placeholders themselves; extra values are ignored."""
    return _render(text, values, "sms")


def render_whatsapp_variables(template: WhatsAppTemplate, values: Mapping[str, str]) -> dict[str, str]:
    """The ContentVariables of `template` for Twilio (``json.dumps`` the result): {"1": "Maria", ...}.

    WhatsApp refuses template parameters with line breaks, tabs or more than four spaces in a row, so
    runs of whitespace become one space. Raises like `render_sms`."""
    rendered: dict[str, str] = {}
    for key, text in template.variables:
        rendered[key] = " ".join(_render(text, values, f"whatsapp variable {key}").split())
    return rendered


def pick_variant(step: Step, key: str) -> Variant | None:
    """The variant of `step` for `key` (use ``f"{invoice_id}:{step.id}"``), or None when the step has no
    variants. Deterministic: sha256(key) picks a point in the total weight (see `bot.reminders.cadence`)."""
    if not step.variants:
        return None
    if not isinstance(key, str) or not key:
        raise ValueError("pick_variant needs a non-empty str key, such as f'{invoice_id}:{step_id}'")
    total = sum(variant.weight for variant in step.variants)
    point = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % total
    for variant in step.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: the point lies within the total weight")
