"""Candidate NLU models written straight into `nlu_models`, evaluated (no training): for tests of what comes
after the training (the gate's verdict on the page, the promote), unit and browser alike."""

from __future__ import annotations

from datetime import timedelta

from bot.db import Database
from bot.models import CandidateStatus, NluModel, utcnow

INTENTS = ("cumprimentar", "consultar_divida", "parar", "ja_paguei", "contestar_divida", "falar_atendente")


def _metrics(recall: dict[str, float]) -> dict:
    intents = {}
    for name in INTENTS:
        precision, found = 0.95, recall.get(name, 0.9)
        f1 = 2 * precision * found / (precision + found)
        intents[name] = {"precision": precision, "recall": found, "f1": f1, "support": 6}
    return {
        "macro_f1": sum(i["f1"] for i in intents.values()) / len(intents),
        "accuracy": 0.92,
        "intents": intents,
    }


def evaluation(model_file: str, current_model: str, *, breaks: str | None = None) -> dict:
    """An evaluation as bot.nlu_ops.evaluation writes it: the candidate as good as the current model, or
    with the intent `breaks` losing recall (which the gate refuses)."""
    return {
        "candidate_model": model_file,
        "current_model": current_model,
        "test_examples": 6 * len(INTENTS),
        "candidate": _metrics({breaks: 0.5} if breaks else {}),
        "current": _metrics({}),
        "regression": {"total": 3, "failures": []},
        "fallback": {"messages": 40, "recorded": 0.05, "candidate": 0.05},
        "changed": [
            {"text": "paguei <valor> ontem", "current": "consultar_divida", "candidate": "ja_paguei"}
        ],
        "confusion_matrix": False,
    }


def ready_candidate(db: Database, model_file: str, current_model: str, *, breaks: str | None = None) -> int:
    """A candidate row, trained and evaluated (`ready`); returns its id."""
    now = utcnow()
    with db.session() as session:
        row = NluModel(
            model_file=model_file,
            fingerprint=model_file.removeprefix("regua-")[:12],
            status=CandidateStatus.READY,
            requested_via="console",
            started_at=now - timedelta(minutes=12),
            heartbeat_at=now,
            finished_at=now,
            progress="done",
            evaluation=evaluation(model_file, current_model, breaks=breaks),
        )
        session.add(row)
        session.flush()
        return row.id
