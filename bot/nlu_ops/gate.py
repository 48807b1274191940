"""The quality gate (issue 17 §5): may a candidate NLU model replace the current one?

`judge` applies the rules to a candidate's evaluation (bot.nlu_ops.evaluation); each rule that fails
gives a reason in pt-BR:

- macro-F1 on the frozen test split does not drop (by more than `MACRO_F1_TOLERANCE`: retraining noise);
- the critical intents (`CRITICAL_INTENTS`: a debtor asking to stop, disputing a debt, saying they paid,
  asking for a person) lose no recall;
- the regression set passes: every message ops corrected is predicted as corrected;
- the fallback rate on recent real messages does not rise above the recorded one.

`verdict` judges a stored candidate and records the result on its row; `require_passed` is the check
before a promote (CLI and console); `override` lets a supervisor (or
admin: `Permission.OVERRIDE_GATE`) let a refused candidate through with a written reason, audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot import audit
from bot.localtime import local_datetime
from bot.models import CandidateStatus, NluModel, User, utcnow
from bot.nlu_ops import candidates
from bot.people import accounts
from bot.people.roles import Permission, require

CRITICAL_INTENTS = ("parar", "contestar_divida", "ja_paguei", "falar_atendente")
# Float noise, not a tolerance: for the other rules "does not drop" means it does not drop.
_EPSILON = 1e-9
# Macro-F1 may drop this much, and no more. Retraining DIET (same config.yml and seed) on data that differs
# by a few examples moves it by this much on its own: on the ~220 examples of the frozen test split, 3
# examples added from the inbox flipped 8 test predictions (6 wrong, 2 right), 0.962 -> 0.944, while
# every critical intent kept its recall. A refusal for that would refuse nearly every retraining; the
# critical intents' recall and the regression set, which protect what matters most, stay strict.
MACRO_F1_TOLERANCE = 0.02
MIN_REASON_LENGTH = 10
_SHOWN_FAILURES = 3


class GateError(ValueError):
    """The gate cannot do what was asked; the message is pt-BR, for the person."""


class GateRefused(GateError):
    """The gate refused the candidate (and no supervisor let it through); the message lists why."""


@dataclass(frozen=True)
class Verdict:
    """Whether the candidate may be promoted, why (pt-BR), and whether a person overrode a refusal."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    overridden: bool = False


def judge(evaluation: dict) -> tuple[bool, list[str]]:
    """The gate's rules on an evaluation: (passed, reasons). A refusal lists every rule that failed."""
    mine, theirs = evaluation.get("candidate"), evaluation.get("current")
    if not mine:
        return False, ["O candidato não foi avaliado."]
    refusals = []
    if theirs:
        refusals += _macro_f1(mine, theirs) + _critical_recall(mine, theirs)
    refusals += _regression(evaluation.get("regression") or {})
    refusals += _fallback(evaluation.get("fallback") or {})
    if refusals:
        return False, refusals
    summary = f"Aprovado: F1 macro {_num(mine['macro_f1'])}"
    if theirs:
        summary += f" (atual {_num(theirs['macro_f1'])})"
    return True, [summary + "; intenções críticas, regressão e fallback sem piora."]


def _macro_f1(mine: dict, theirs: dict) -> list[str]:
    if mine["macro_f1"] + MACRO_F1_TOLERANCE + _EPSILON < theirs["macro_f1"]:
        return [
            f"O F1 macro caiu de {_num(theirs['macro_f1'])} para {_num(mine['macro_f1'])} "
            f"(mais que a tolerância de {_num(MACRO_F1_TOLERANCE)})."
        ]
    return []


def _critical_recall(mine: dict, theirs: dict) -> list[str]:
    reasons = []
    for intent in CRITICAL_INTENTS:
        before = (theirs["intents"].get(intent) or {}).get("recall")
        if before is None:
            continue  # not in the test split: nothing to compare
        after = (mine["intents"].get(intent) or {}).get("recall", 0.0)
        if after + _EPSILON < before:
            reasons.append(
                f"A intenção crítica {intent} perdeu recall: de {_pct(before)} para {_pct(after)}."
            )
    return reasons


def _regression(regression: dict) -> list[str]:
    failures = regression.get("failures") or []
    if not failures:
        return []
    examples = "; ".join(
        f"“{f['text']}” saiu {f['predicted']} (corrigida para {f['expected']})"
        for f in failures[:_SHOWN_FAILURES]
    )
    total = regression.get("total", len(failures))
    return [f"Regressão: {len(failures)} de {total} mensagens corrigidas saíram erradas ({examples})."]


def _fallback(fallback: dict) -> list[str]:
    if not fallback.get("messages"):
        return []
    before, after = fallback["recorded"], fallback["candidate"]
    if after > before + _EPSILON:
        return [
            f"A taxa de fallback nas {fallback['messages']} mensagens recentes subiria de {_pct(before)} "
            f"para {_pct(after)}."
        ]
    return []


def _num(value: float) -> str:
    return f"{value:.3f}".replace(".", ",")


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%".replace(".", ",")


def verdict(session: Session, model_file: str) -> Verdict:
    """The gate's verdict on the candidate `model_file`, recorded on its row (a refusal a supervisor
    overrode passes, `overridden`)."""
    row = _candidate(session, model_file)
    if row.status != CandidateStatus.READY:
        waiting = "O candidato ainda está em treinamento." if row.status == CandidateStatus.TRAINING else None
        return Verdict(False, [waiting or f"O treinamento falhou: {row.error or 'motivo desconhecido'}"])
    passed, reasons = judge(row.evaluation or {})
    row.gate_passed, row.gate_reasons = passed, reasons
    if not passed and row.override_reason:
        when = local_datetime(row.overridden_at) if row.overridden_at else None
        note = f"Liberado por decisão de supervisão{f' em {when:%d/%m/%Y %H:%M}' if when else ''}: "
        return Verdict(True, [*reasons, note + row.override_reason], overridden=True)
    return Verdict(passed, reasons)


def require_passed(session: Session, model_file: str) -> Verdict:
    """The verdict on the candidate `model_file` if it may be promoted (the gate passed it, or a supervisor
    let it through); raises `GateError` when it is not a candidate and `GateRefused` when the gate refused
    it. The one rule the CLI and the console both apply before a promote."""
    found = verdict(session, model_file)
    if not found.passed:
        raise GateRefused("O portão de qualidade recusou este candidato: " + "; ".join(found.reasons))
    return found


def override(session: Session, model_file: str, user: User, reason: str) -> Verdict:
    """A supervisor lets the refused candidate `model_file` through, saying why (audited)."""
    require(user, Permission.OVERRIDE_GATE)
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON_LENGTH:
        raise GateError("Escreva o motivo da liberação (pelo menos 10 caracteres).")
    row = _candidate(session, model_file)
    current = verdict(session, model_file)
    if row.status != CandidateStatus.READY:
        raise GateError("Só um candidato pronto e avaliado pode ser liberado.")
    if current.passed:
        raise GateError("Este candidato já passou pelo portão de qualidade.")
    row.override_reason, row.overridden_by_user_id, row.overridden_at = reason, user.id, utcnow()
    session.flush()
    audit.record(
        session,
        accounts.actor(user),
        "nlu.gate_overridden",
        "nlu_model",
        row.id,
        model=row.model_file,
        refusals=len(current.reasons),
        reason=reason,
    )
    return verdict(session, model_file)


def _candidate(session: Session, model_file: str) -> NluModel:
    row = candidates.find(session, model_file)
    if row is None:
        raise GateError(f"Modelo candidato não encontrado: {model_file}.")
    return row
