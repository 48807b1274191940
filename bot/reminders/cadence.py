"""Cadences as configuration: the reminder steps of a régua, read from YAML and validated at load.

A cadence says when a debtor is reminded of an invoice (days relative to the due date), on which channels
and with which texts. Régua ships a default one (`default_cadence.yml`, next to this module, loaded by
`default_cadence()`); a creditor may have its own. `load_cadence` checks everything when the file is read
and raises `CadenceError`, whose message names the file, the step (and variant) and the field and says
what is wrong, so a bad cadence stops the process at start-up instead of sending a bad message later.

The schema (version 1)
----------------------
::

    version: 1                          # required; this Régua reads version 1
    name: padrao                        # required: 1-40 letters, digits, "_", "-", "."
    description: ...                    # optional, free text for people
    contact_window: "seg-sex 09:00-19:00"
                                        # optional narrowing of the legal contact window (see
                                        # bot.reminders.window): bot.hours.parse_hours syntax; hours
                                        # beyond the legal window are ignored (a warning says so)
    limits: {per_day: 1, per_week: 3}   # optional caps on reminders per debtor; defaults 1 and 3;
                                        # per_day 1..3, per_week 1..10, per_day <= per_week
    steps:                              # required, at least one; kept sorted by offset_days
      - id: lembrete_d-3                # required, unique: 1-40 lowercase letters, digits, "_-+."
        description: ...                # optional
        offset_days: -3                 # required: whole days from the due date, -30..120; one step a day
        tone: amigavel                  # required: amigavel | cordial | formal | negociacao
        channels: [whatsapp, sms]       # required: in order of preference; the next one is the fallback
                                        # when WhatsApp fails. No repeats.
        whatsapp:                       # required iff "whatsapp" is a channel
          content_sid: HX...            # Twilio Content API template SID: "HX" + 32 lowercase hex digits
          variables: {"1": "{nome}", "2": "{valor}"}
                                        # Twilio ContentVariables: keys 1..n, values are texts with
                                        # placeholders (usually exactly one placeholder each)
        sms: "Olá, {nome}! ..."         # required iff "sms" is a channel
        variants:                       # optional A/B test: at least two; unique ids (1-20 characters,
                                        # like step ids); weights 1..10000
          - id: a
            weight: 50                  # a variant without sms/whatsapp sends the step's own content
          - id: b
            weight: 50
            sms: "..."                  # overrides the step's sms and/or whatsapp
            whatsapp: {content_sid: HX..., variables: {...}}

Unknown fields are errors (a typo such as ``smss:`` must not silently drop a text). A variant may only
override the content of a channel the step uses.

Placeholders
------------
Texts use ``{name}`` placeholders (``{{`` and ``}}`` for literal braces), filled when a reminder is sent
by `render_sms` / `render_whatsapp_variables` from values the sender computes for the invoice:

=========  ===================================================================================
{nome}     the debtor's first name, as in greetings ("Maria")
{valor}    the amount due, `bot.money.format_brl` ("R$ 1.234,56")
{data}     the due date, dd/mm/aaaa ("10/12/2025")
{credor}   the creditor's display name ("Loja Exemplo")
{cnpj}     the creditor's CNPJ, masked ("11.222.333/0001-81"), see `bot.answers.creditor_line`
{link}     the payment page URL, `bot.payments.links.page_url`
=========  ===================================================================================

No other placeholder is accepted (no format specs, conversions or attribute access either): the set is
`PLACEHOLDERS`, and a new one needs a value from the sender first.

Legal checks (made at load)
---------------------------
* CDC art. 42-A: every collection message names the creditor and its CNPJ. Every SMS text (the step's and
  every variant's) must contain ``{credor}`` and ``{cnpj}``. It must also carry the payment link
  (``{link}``), so that the message is actionable and the debtor never needs to call anyone, and an
  opt-out instruction: the word PARAR (the opt-out keyword of `bot.optout`), as in "Para não receber mais,
  responda PARAR."
* A WhatsApp template's text lives at Twilio and cannot be read here. ASSUMPTION: the approved template
  prints all of its variables, so its variables must together carry ``{credor}``, ``{cnpj}`` and
  ``{link}``; that the template body also says how to stop (PARAR) is the creditor's responsibility when
  the template is submitted for approval (see the comments in `default_cadence.yml`).
* CDC art. 42 (no embarrassment, no threat) and art. 71 (collection with threats, coercion, false or
  misleading statements or exposure to ridicule is a crime): every SMS text and every literal text of the
  WhatsApp variables is matched against `FORBIDDEN`, a list of threatening, embarrassing or labelling
  phrasings (case and accents ignored, whole words only, so "processamento" is not "processo"). Telling a
  debtor, in neutral terms, that a negativação is legally possible can be lawful, but Régua errs on the side
  of caution: automated reminders never mention credit bureaus, protest, courts or the police; those
  conversations belong to people.

Length
------
SMS texts are rendered with `TYPICAL_VALUES` at load: above `SMS_MAX_CHARS` characters a text is rejected,
above `SMS_WARN_CHARS` the cadence gets a warning with the segment count (`bot.reminders.sms`). Warnings
(`Cadence.warnings`) are for operators: long texts, placeholder template SIDs, a contact window cut by the
legal one, more steps within a week than `limits.per_week` allows.

Variants
--------
`pick_variant(step, key)` chooses a variant with probability weight / sum of weights, deterministically
from a stable key (use ``f"{invoice_id}:{step.id}"``): the first 8 bytes of sha256(key) as an integer,
modulo the total weight, falls into one variant's share (in file order). The same invoice always gets the
same variant, which retries (exactly-once sending) and A/B reporting rely on.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.hours import InvalidHours
from bot.reminders import sms as sms_segments
from bot.reminders.window import LEGAL_HOURS, ContactWindow

__all__ = [
    "CHANNELS",
    "DEFAULT_CADENCE_FILE",
    "FORBIDDEN",
    "PLACEHOLDERS",
    "TONES",
    "Cadence",
    "CadenceError",
    "Forbidden",
    "Limits",
    "RenderError",
    "Step",
    "Variant",
    "WhatsAppTemplate",
    "default_cadence",
    "find_forbidden",
    "load_cadence",
    "pick_variant",
    "render_sms",
    "render_whatsapp_variables",
]

DEFAULT_CADENCE_FILE = Path(__file__).with_name("default_cadence.yml")

VERSION = 1
TONES = ("amigavel", "cordial", "formal", "negociacao")
CHANNELS = ("whatsapp", "sms")
MIN_OFFSET_DAYS, MAX_OFFSET_DAYS = -30, 120
MAX_PER_DAY, MAX_PER_WEEK = 3, 10
DEFAULT_PER_DAY, DEFAULT_PER_WEEK = 1, 3
MAX_WEIGHT = 10_000
SMS_MAX_CHARS = 480
SMS_WARN_CHARS = 400  # about 6 segments of UCS-2, which most pt-BR text is
OPT_OUT_WORD = "PARAR"

PLACEHOLDERS: dict[str, str] = {
    "nome": "the debtor's first name",
    "valor": "the amount due (R$ 1.234,56)",
    "data": "the due date (dd/mm/aaaa)",
    "credor": "the creditor's display name",
    "cnpj": "the creditor's CNPJ (11.222.333/0001-81)",
    "link": "the payment page URL",
}
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
_FORMATTER = string.Formatter()

_TOP_FIELDS = ("version", "name", "description", "contact_window", "limits", "steps")
_STEP_FIELDS = ("id", "description", "offset_days", "tone", "channels", "whatsapp", "sms", "variants")
_VARIANT_FIELDS = ("id", "description", "weight", "whatsapp", "sms")
_WHATSAPP_FIELDS = ("content_sid", "variables")
_LIMIT_FIELDS = ("per_day", "per_week")


class CadenceError(ValueError):
    """A cadence cannot be used; the message names the file, the step and the field, and says why."""


class RenderError(ValueError):
    """A text cannot be rendered: a placeholder has no value (or an empty one)."""


# --------------------------------------------------------------------------------------------------------
# Forbidden phrasings
# --------------------------------------------------------------------------------------------------------


class Forbidden(NamedTuple):
    """A phrasing automated reminders must never use: a regex over folded text (lower case, no accents),
    why it is forbidden, and an example it catches (the tests check every example)."""

    pattern: re.Pattern[str]
    reason: str
    example: str


def _rule(pattern: str, reason: str, example: str) -> Forbidden:
    return Forbidden(re.compile(pattern), reason, example)


# Patterns are matched against `_fold(text)`: lower case, accents removed ("ação" -> "acao"), so they are
# written without accents. Word boundaries everywhere: "processamento" is not "processo", "protestante"
# is not "protesto", "resposta negativa" is not "negativação", "penhor" is not "penhora".
FORBIDDEN: tuple[Forbidden, ...] = (
    # Credit bureaus and protest: lawful steps in themselves, but threats in an automated reminder.
    _rule(
        r"\bprotest(?:o|os|ar|ado|ada|ados|adas|amos|aremos|ara|arao)\b",
        "threat of protest at a notary (protesto)",
        "Evite o protesto do título.",
    ),
    _rule(r"\bcartorios?\b", "threat of protest at a notary (cartório)", "O título irá para o cartório."),
    _rule(
        r"\bnegativ(?:ar|ado|ada|ados|adas|acao|acoes|amos|aremos|ara|arao)\b",
        "mentions a negativação (Régua never mentions credit bureaus in automated reminders)",
        "Evite a negativação do seu CPF.",
    ),
    _rule(
        r"\b(?:spc|scpc|serasa)\b",
        "names a credit bureau (read as a threat of negativação)",
        "Seu CPF pode ir para o SPC.",
    ),
    _rule(
        r"\b(?:cadastros?|orgaos?|servicos?|bancos?\s+de\s+dados)\s+de\s+"
        r"(?:protecao\s+ao\s+credito|inadimplentes|devedores|maus\s+pagadores)\b",
        "mentions credit bureaus (read as a threat of negativação)",
        "Inclusão nos órgãos de proteção ao crédito.",
    ),
    _rule(
        r"\bnome\s+suj[oa]\b|\bsuj(?:ar|ara|arao|aremos|ou)\s+(?:o\s+)?(?:seu\s+)?nome\b",
        "embarrassing and threatening ('nome sujo')",
        "Não fique com o nome sujo!",
    ),
    _rule(
        r"\blimp(?:ar|e|a|o)\s+(?:o\s+)?(?:seu\s+)?nome\b",
        "presumes the debtor is negativado ('limpe seu nome')",
        "Limpe seu nome hoje.",
    ),
    # Courts, lawyers and seizure.
    _rule(
        r"\bacao\s+(?:judicial|de\s+cobranca|na\s+justica)\b",
        "threat of legal action",
        "Evite uma Ação Judicial.",
    ),
    _rule(
        r"\b(?:extra)?judicia(?:l|is|lmente|lizar|lizado|lizada|lizacao)\b",
        "threat of (extra)judicial measures",
        "Cobrança judicial em andamento.",
    ),
    _rule(r"\bjustica\b", "threat of going to court ('na Justiça')", "Vamos resolver isso na Justiça."),
    _rule(
        r"\bprocessos?\b|\bprocessa-l[oa]s?\b|\bprocess(?:ar|aremos|ara|arao)\s+(?:voce|o\s+senhor|a\s+senhora)\b"
        r"|\b(?:voce|o\s+senhor|a\s+senhora)\s+(?:sera|vai\s+ser|podera\s+ser|pode\s+ser)\s+processad[oa]\b",
        "threat of a lawsuit ('processo'; say 'procedimento' or 'etapa' for anything else)",
        "Você pode ser processado.",
    ),
    _rule(
        r"\badvogad[oa]s?\b|\bjuridic[oa]s?\b|\badvocacia\b",
        "threat of lawyers or a legal department",
        "Seu caso foi enviado ao departamento jurídico.",
    ),
    _rule(
        r"\bpenhor(?:a|as|ar|ado|ada|aremos)\b|\bexecuc(?:ao|oes)\b"
        r"|\bbloque(?:io|ar|aremos|ado)\s+(?:(?:de|do|dos|da|das|seu|seus|sua|suas)\s+)*"
        r"(?:bens|conta|contas|salario|imovel|veiculo|carro)\b",
        "threat of seizure (penhora, execução, bloqueio de bens)",
        "Sujeito a penhora de bens.",
    ),
    _rule(
        r"\bintima(?:cao|do|da|r)\b",
        "false legal formality (intimação)",
        "Esta é uma intimação.",
    ),
    _rule(r"\bsob\s+pena\s+de\b", "legal threat formula ('sob pena de')", "Pague sob pena de multa."),
    _rule(
        r"\b(?:medidas|providencias)\s+(?:cabiveis|legais|judiciais|extrajudiciais|drasticas|severas)\b",
        "veiled threat ('medidas cabíveis')",
        "Tomaremos as medidas cabíveis.",
    ),
    _rule(r"\bconsequencias?\b", "veiled threat ('consequências')", "Evite consequências."),
    # Police and crime.
    _rule(
        r"\bpolicia(?:l|is)?\b|\bdelegacia\b|\bboletim\s+de\s+ocorrencia\b",
        "threat of the police",
        "Registraremos na Polícia.",
    ),
    _rule(r"\b(?:cadeia|prisao|prisoes|pres[oa]s?)\b", "threat of prison", "Dívida não dá prisão? Dá sim."),
    _rule(
        r"\b(?:crimes?|criminos[oa]s?|criminal|estelionat(?:o|ario|aria)s?)\b",
        "accuses the debtor of a crime",
        "Não pagar pode ser crime.",
    ),
    # Shame and exposure to third parties.
    _rule(r"\b(?:en)?vergonh\w*", "embarrassing ('vergonha')", "Que vergonha, ainda não pagou."),
    _rule(r"\bconstrang\w*|\bhumilh\w*", "embarrassing ('constrangimento')", "Evite constrangimentos."),
    _rule(
        r"\bexpor\b|\bexposicao\b|\bdivulga(?:r|remos|cao)\b|\bpublicamente\b",
        "threat of exposing the debt",
        "Vamos divulgar a sua dívida.",
    ),
    _rule(
        r"\bvizinh(?:o|a|os|as|anca)\b",
        "threat of involving neighbours",
        "Seus vizinhos vão saber.",
    ),
    _rule(
        r"\b(?:seu|sua|seus|suas)\s+(?:chefes?|patrao|patroa|empregador|empregadora|supervisor|supervisora"
        r"|colegas?|familia|familiares|parentes|conjuge|esposa|esposo|marido|pais|filhos)\b",
        "threat of involving the debtor's employer, family or friends",
        "Vamos avisar seu chefe.",
    ),
    _rule(
        r"\b(?:na|em)\s+sua\s+(?:casa|residencia)\b|\b(?:no|em)\s+seu\s+(?:trabalho|emprego|servico)\b"
        r"|\bvisita\s+(?:domiciliar|de\s+cobranca)\b|\bcobrador(?:es)?\b",
        "threat of collecting at home or at work",
        "Vamos cobrar na sua casa.",
    ),
    # Pressure and false urgency (misleading, CDC art. 71).
    _rule(
        r"\bultim[oa]s?\s+(?:chance|chances|oportunidade|aviso|notificacao|alerta|tentativa|prazo)\b"
        r"|\bultimato\b",
        "false urgency ('última chance')",
        "ÚLTIMA CHANCE de pagar!",
    ),
    _rule(
        r"\bantes\s+que\s+seja\s+tarde\b",
        "veiled threat ('antes que seja tarde')",
        "Pague antes que seja tarde.",
    ),
    _rule(r"\burgen(?:te|tes|cia)\b", "pressure ('urgente')", "URGENTE: fatura em aberto."),
    # Labels and insults.
    _rule(r"\bcaloteir[oa]s?\b|\bcalotes?\b", "insult ('caloteiro')", "Não seja caloteiro."),
    _rule(
        r"\bdevedor(?:a|es|as)?\b|\binadimplentes?\b|\bmau\s+pagador\b|\bma\s+pagadora\b|\bmaus\s+pagadores\b",
        "labels the person ('devedor', 'inadimplente'); address the debtor by name",
        "Prezado devedor,",
    ),
    _rule(
        r"\b(?:safad[oa]s?|pilantras?|vagabund[oa]s?|vigaristas?|picaret[ao]s?|mentiros[oa]s?"
        r"|desonest[oa]s?|irresponsave(?:l|is)|sem\s+carater|mau\s+carater)\b",
        "insult",
        "Atitude irresponsável.",
    ),
)


def _fold(text: str) -> tuple[str, list[int]]:
    """`text` in lower case without accents, and for each folded character the index of the original one
    (to quote the offending words exactly as written)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char.lower()):
            if not unicodedata.combining(part):
                folded.append(part)
                origin.append(index)
    return "".join(folded), origin


def find_forbidden(text: str) -> tuple[str, Forbidden] | None:
    """The first forbidden phrasing in `text` (as written there) and its rule, or None."""
    folded, origin = _fold(text)
    found: tuple[int, str, Forbidden] | None = None
    for rule in FORBIDDEN:
        match = rule.pattern.search(folded)
        if match and (found is None or match.start() < found[0]):
            phrase = text[origin[match.start()] : origin[match.end() - 1] + 1]
            found = (match.start(), phrase, rule)
    return None if found is None else (found[1], found[2])


# --------------------------------------------------------------------------------------------------------
# The cadence
# --------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------
# Rendering and variants
# --------------------------------------------------------------------------------------------------------


def _parse(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """`string.Formatter().parse` as a list; unmatched braces raise `ValueError`."""
    return list(_FORMATTER.parse(text))


def _placeholders(text: str) -> list[str]:
    return [name for _literal, name, _spec, _conv in _parse(text) if name is not None]


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
    variants. Deterministic: sha256(key) picks a point in the total weight (see the module docstring)."""
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


# --------------------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------------------


class _Checker:
    """Validation state of one document: where errors come from, and the warnings gathered."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.warnings: list[str] = []

    def error(self, where: str, message: str) -> CadenceError:
        return CadenceError(f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}")

    def mapping(self, value: Any, where: str, what: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"{what} must be a mapping with {', '.join(allowed)}")
        for key in value:
            if key not in allowed:
                raise self.error(
                    where, f"unknown field {key!r} in {what} (expected one of: {', '.join(allowed)})"
                )
        return value

    def text(self, value: Any, where: str, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"{field} must be a non-empty text, got {value!r}")
        return value.strip()

    def integer(self, value: Any, where: str, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where, f"{field} must be a whole number between {low} and {high}, got {value!r}")
        if not low <= value <= high:
            raise self.error(where, f"{field} must be between {low} and {high}, got {value}")
        return value

    def content(self, text: str, where: str, field: str) -> list[str]:
        """Check a text's placeholders and phrasing; return its placeholders."""
        try:
            parsed = _parse(text)
        except ValueError:
            raise self.error(
                where, f"{field} has an unmatched '{{' or '}}' (write {{{{ or }}}} for a literal brace)"
            ) from None
        names: list[str] = []
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if spec or conversion:
                raise self.error(
                    where, f"{field}: placeholder {{{name}}} may not carry a format or conversion"
                )
            if name not in PLACEHOLDERS:
                allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                raise self.error(where, f"{field} uses unknown placeholder {{{name}}} (allowed: {allowed})")
            names.append(name)
        found = find_forbidden(text)
        if found is not None:
            phrase, rule = found
            raise self.error(
                where, f"{field} contains forbidden phrasing {phrase!r}: {rule.reason} (CDC arts. 42 and 71)"
            )
        return names


def load_cadence(source: str | os.PathLike[str], *, label: str | None = None) -> Cadence:
    """Read and validate a cadence.

    `source` is a path (a `Path`, or a str without line breaks ending in .yml or .yaml) or the YAML text
    itself. `label` names the cadence in messages (default: the file name, or "cadence" for text).
    Raises `CadenceError` on anything wrong; see the module docstring for the rules."""
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
    return Step(step_id, offset, tone, channels, sms, whatsapp, variants, description)


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
