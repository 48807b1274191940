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
                                        # like step ids, never "holdout"); weights 1..10000
          - id: a
            weight: 50                  # a variant without sms/whatsapp sends the step's own content
          - id: b
            weight: 50
            sms: "..."                  # overrides the step's sms and/or whatsapp
            whatsapp: {content_sid: HX..., variables: {...}}
        holdout: 10                     # optional: percent of debtors (0..50) who get no message for
                                        # this step, to measure what the message adds
        sample_size: 3900               # optional, only with variants or a holdout: planned contacts
                                        # per arm (regua experiment plan)

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
{cnpj}     the creditor's CNPJ, masked ("11.222.333/0001-81"), see `bot.answers.debts.creditor_line`
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

Variants and holdout (experiments)
----------------------------------
`pick_variant(step, key)` chooses a variant with probability weight / sum of weights, deterministically
from a stable key, `assignment_key(debtor_id, step)` (``f"d{debtor_id}:{step.id}"``): the first 8 bytes
of sha256(key) as an integer, modulo the total weight, falls into one variant's share (in file order).
The key is the **debtor's**, so a debtor always gets the same variant of a step, for every invoice,
retry and batch (sticky assignment), which exactly-once sending and the experiments' readout rely on.

``holdout: 10`` on a step (0..50, percent of debtors) keeps that share of debtors without the step's
message: `in_holdout(step, debtor_id)` draws from sha256 of the assignment key plus ``":holdout"``
(independent of the variant draw). The planner marks their rows (variant ``holdout``, a reserved id);
the dispatcher re-checks them like any row (paid, paused, opted out, contact window, caps) and, where a
message could have gone out, records the moment instead of sending (status skipped, note ``holdout``,
``sent_at`` the moment). ``sample_size: 3900`` is the experiment's planned contacts per arm
(`regua experiment plan`); the readout waits for it (docs/experiments.md).

Where the code lives
--------------------
This module is the public face: import from here. The code is split by responsibility:
`cadence_model` (the dataclasses, placeholders), `cadence_schema` (loading and validation, the
default cadence) with `cadence_checker` (`CadenceError` and the checks every field shares), `forbidden`
(the forbidden phrasings) and `rendering` (filling texts, picking variants and the holdout).
"""

from bot.reminders.cadence_model import (
    CHANNELS,
    HOLDOUT,
    PLACEHOLDERS,
    TONES,
    Cadence,
    Limits,
    Step,
    Variant,
    WhatsAppTemplate,
)
from bot.reminders.cadence_schema import DEFAULT_CADENCE_FILE, CadenceError, default_cadence, load_cadence
from bot.reminders.forbidden import FORBIDDEN, Forbidden, find_forbidden
from bot.reminders.rendering import (
    RenderError,
    assignment_key,
    in_holdout,
    pick_variant,
    render_sms,
    render_whatsapp_variables,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_CADENCE_FILE",
    "FORBIDDEN",
    "HOLDOUT",
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
    "assignment_key",
    "default_cadence",
    "find_forbidden",
    "in_holdout",
    "load_cadence",
    "pick_variant",
    "render_sms",
    "render_whatsapp_variables",
]
