"""The cadence as data: steps, A/B variants, WhatsApp templates, per-debtor limits and placeholders.

`bot.reminders.cadence_schema.load_cadence` builds these from YAML after validating it; the schema is
described in `bot.reminders.cadence`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from bot.reminders.window import ContactWindow

VERSION = 1
TONES = ("amigavel", "cordial", "formal", "negociacao")
CHANNELS = ("whatsapp", "sms")
DEFAULT_PER_DAY, DEFAULT_PER_WEEK = 1, 3
# The arm of a step's experiment that gets no message (`Step.holdout`): reserved, no variant may use it.
HOLDOUT = "holdout"

PLACEHOLDERS: dict[str, str] = {
    "nome": "the debtor's first name",
    "valor": "the amount due (R$ 1.234,56)",
    "data": "the due date (dd/mm/aaaa)",
    "credor": "the creditor's display name",
    "cnpj": "the creditor's CNPJ (11.222.333/0001-81)",
    "link": "the payment page URL",
}
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class WhatsAppTemplate:
    """An approved Twilio Content API template and how to fill its variables ({{1}}, {{2}}, ...)."""

    content_sid: str
    variables: tuple[tuple[str, str], ...]  # ("1", "{nome}"), ("2", "{valor}"), ... in key order

    @property
    def placeholders(self) -> frozenset[str]:
        """Every placeholder the variables use."""
        return frozenset(name for _key, value in self.variables for name in _placeholders(value))


@dataclass(frozen=True)
class Variant:
    """One arm of a step's A/B test: its share (`weight`) and the content it overrides (None: the step's)."""

    id: str
    weight: int
    sms: str | None = None
    whatsapp: WhatsAppTemplate | None = None
    description: str | None = None


@dataclass(frozen=True)
class Step:
    """A reminder `offset_days` from the due date, on `channels` in order of preference."""

    id: str
    offset_days: int
    tone: str
    channels: tuple[str, ...]
    sms: str | None = None
    whatsapp: WhatsAppTemplate | None = None
    variants: tuple[Variant, ...] = ()
    description: str | None = None
    holdout: int = 0  # percent of debtors who get no message for this step (an experiment's holdout arm)
    sample_size: int | None = None  # contacts per arm the experiment planned (`regua experiment plan`)

    @property
    def is_experiment(self) -> bool:
        """The step compares arms: variants, or its message against a holdout."""
        return bool(self.variants) or self.holdout > 0

    def sms_for(self, variant: Variant | None) -> str | None:
        """The SMS text to send for `variant` (None: no variant): its own, else the step's."""
        return variant.sms if variant is not None and variant.sms is not None else self.sms

    def whatsapp_for(self, variant: Variant | None) -> WhatsAppTemplate | None:
        """The WhatsApp template to send for `variant` (None: no variant): its own, else the step's."""
        if variant is not None and variant.whatsapp is not None:
            return variant.whatsapp
        return self.whatsapp

    def variant(self, variant_id: str) -> Variant:
        """The variant with this id (KeyError if there is none)."""
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise KeyError(variant_id)


@dataclass(frozen=True)
class Limits:
    """At most `per_day` reminders a day and `per_week` in any 7 days, per debtor."""

    per_day: int = DEFAULT_PER_DAY
    per_week: int = DEFAULT_PER_WEEK


@dataclass(frozen=True)
class Cadence:
    """A validated cadence. `steps` are sorted by `offset_days`; `warnings` are for operators."""

    name: str
    steps: tuple[Step, ...]
    limits: Limits = Limits()
    contact_window: str | None = None
    description: str | None = None
    version: int = VERSION
    source: str = "cadence"
    warnings: tuple[str, ...] = ()

    @property
    def window(self) -> ContactWindow:
        """The legal contact window narrowed by `contact_window`."""
        return ContactWindow.for_creditor(self.contact_window)

    def step(self, step_id: str) -> Step:
        """The step with this id (KeyError if there is none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def _parse(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """`string.Formatter().parse` as a list; unmatched braces raise `ValueError`."""
    return list(_FORMATTER.parse(text))


def _placeholders(text: str) -> list[str]:
    return [name for _literal, name, _spec, _conv in _parse(text) if name is not None]
