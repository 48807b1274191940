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


def assignment_key(debtor_id: int, step: Step) -> str:
    """The key a debtor's arm of `step` is drawn from: the same debtor always lands in the same arm of a
    step (every invoice, every retry, every batch), which an experiment's readout relies on."""
    return f"d{debtor_id}:{step.id}"


def _point(key: str, total: int) -> int:
    """The first 8 bytes of sha256(key) as an integer, modulo `total`."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % total


def in_holdout(step: Step, debtor_id: int) -> bool:
    """True when the debtor is in the step's holdout (`step.holdout` percent of debtors, no message).

    Drawn from its own key (the assignment key plus ":holdout"), independent of the variant draw, so
    adding or removing a holdout does not move anyone between variants."""
    if step.holdout <= 0:
        return False
    return _point(assignment_key(debtor_id, step) + ":holdout", 100) < step.holdout


def pick_variant(step: Step, key: str) -> Variant | None:
    """The variant of `step` for `key` (use `assignment_key(debtor_id, step)`), or None when the step has
    no variants. Deterministic: sha256(key) picks a point in the total weight (bot.reminders.cadence)."""
    if not step.variants:
        return None
    if not isinstance(key, str) or not key:
        raise ValueError("pick_variant needs a non-empty str key, such as assignment_key(debtor_id, step)")
    point = _point(key, sum(variant.weight for variant in step.variants))
    for variant in step.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: the point lies within the total weight")
