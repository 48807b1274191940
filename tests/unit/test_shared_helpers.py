"""The helpers written once: local dates, accent folding, owner ids and audit rows."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bot import audit
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
