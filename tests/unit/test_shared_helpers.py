"""The helpers written once: local dates, accent folding, owner ids and audit rows."""

from __future__ import annotations

import ast
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bot import audit, texts
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import AuditLog
from bot.owner_ids import new_owner_id
from bot.text_folding import fold_accents

ROOT = Path(__file__).resolve().parents[2]


def test_a_moment_after_midnight_utc_is_still_yesterday_in_brasilia_and_in_acre():
    moment = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)  # 23:30 in Brasília, 21:30 in Acre
    assert local_date(moment) == datetime(2026, 3, 9).date()
    assert local_date(moment, "America/Rio_Branco") == datetime(2026, 3, 9).date()
    assert local_date(moment, "America/Noronha") == datetime(2026, 3, 10).date()


def test_an_empty_time_zone_means_brasilia():
    moment = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    assert local_date(moment, "") == local_date(moment, DEFAULT_TZ)


def test_accent_folding_drops_accents_and_keeps_case_and_other_characters():
    assert fold_accents("Não, PARCELAÇÃO em 3x! ümlaut") == "Nao, PARCELACAO em 3x! umlaut"
    assert fold_accents("n\u0303ao") == "nao"  # an accent typed as a combining mark


def test_two_owner_ids_of_the_same_process_differ_but_name_the_same_process():
    first, second = new_owner_id(), new_owner_id()
    assert first != second
    assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]


def test_an_audit_row_stores_the_entity_id_as_text_and_a_detail_may_be_named_like_a_parameter(db):
    with db.session() as session:
        audit.record(session, "cli", "creditor.policy_configured", "creditor", 42, actor="x", instalments=6)
    with db.session() as session:
        row = session.query(AuditLog).one()
        assert (row.actor, row.action, row.entity_type, row.entity_id) == (
            "cli",
            "creditor.policy_configured",
            "creditor",
            "42",
        )
        assert row.details == {"actor": "x", "instalments": 6}


def test_no_module_builds_audit_rows_or_repeats_a_helper_by_hand():
    """Each helper lives once; a second hand-made copy is what the issue removed."""
    patterns = {
        "AuditLog(": "bot/audit.py",
        '"America/Sao_Paulo"': "bot/localtime.py",
        "gethostname()": "bot/owner_ids.py",
    }
    for pattern, home in patterns.items():
        found = subprocess.run(
            ["grep", "-rlF", "--include=*.py", pattern, "bot", "webhooks", "actions"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()
        # bot/models defines AuditLog (the class, not a row); phones' DDD table names zones as data.
        extra = {path for path in found if path != home} - {"bot/phones.py"}
        if pattern == "AuditLog(":
            extra -= {"bot/models/compliance.py"}
        assert not extra, f"{pattern} outside {home}: {sorted(extra)}"


# Modules (or whole packages) that compose what a debtor reads; their sentences must come from bot/texts.py.
DEBTOR_FACING = (
    "bot/answers",
    "bot/agreements",
    "bot/conversation/decide.py",
    "bot/conversation/rasa_turn.py",
    "bot/conversation/handoff.py",
    "bot/hours.py",
    "bot/payments/charges.py",
    "bot/payments/confirmations.py",
    "bot/reminders/dispatch.py",
    "webhooks/payments.py",
)
_PORTUGUESE = re.compile(
    r"R\$|\b(?:você|fatura|faturas|parcela|acordo|vence|venceu|pague|recebemos|opções|responda"
    r"|atendimento|total|aberto|desconto|hoje|amanhã|às)(?!\w)",
    re.IGNORECASE,
)


def _sentences(path: Path) -> list[str]:
    """String pieces with a space (sentence-like) outside docstrings: constants and f-string parts."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and " " in node.value
    ]


def test_every_portuguese_sentence_a_debtor_reads_comes_from_the_texts_module():
    modules = [
        path.relative_to(ROOT).as_posix()
        for entry in DEBTOR_FACING
        for path in (sorted((ROOT / entry).rglob("*.py")) if (ROOT / entry).is_dir() else [ROOT / entry])
    ]
    found = {module: [s for s in _sentences(ROOT / module) if _PORTUGUESE.search(s)] for module in modules}
    assert {module: hits for module, hits in found.items() if hits} == {}


def test_the_moved_texts_read_exactly_as_before():
    assert texts.breakdown(16325, 15990, 320, 15, 3, True) == (
        "R$ 163,25 (valor original R$ 159,90 + multa R$ 3,20 + juros R$ 0,15, 3 dia(s) de atraso)"
    )
    assert texts.option_description(6, 90000, 0, 15000, 15000) == "6x de R$ 150,00 (total R$ 900,00)"
    assert texts.option_description(1, 90000, 10000, 90000, 90000) == (
        "À vista: R$ 900,00 (desconto de R$ 100,00)"
    )
    assert texts.instalment_label(1, 12, 6) == "parcela 1 de 6 do acordo 12"
    assert texts.invoice_label(None, "NF-7") == "fatura NF-7"
    assert texts.reminder_amount("R$ 10,00", 2) == "R$ 10,00 (2 faturas)"
