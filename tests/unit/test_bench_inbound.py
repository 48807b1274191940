"""The inbound benchmark's own logic: its load plan, how it reads Twilio's side, and the comparison's verdict.

The benchmark measures the product; these check that what it concludes follows from what it measured.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench.inbound.compare_report import goals, run_row, side_summary
from bench.inbound.load import Person, plan
from bench.inbound.measure import Outcome
from bench.inbound.twilio_side import twiml_replies

BENCH = Path(__file__).resolve().parents[2] / "bench"


def outcome(system: str, latencies_ms: list[float], cpu: dict[str, float], **extra) -> Outcome:
    """A measured run of `system` with these latencies and CPU seconds, 100 messages sent."""
    result = Outcome(system, 20.0, 100, [v / 1000 for v in latencies_ms], 0, 0, 0, 0.0, 100, cpu=cpu)
    for name, value in extra.items():
        setattr(result, name, value)
    return result


def run(side: str, index: int, regua_ms: float, rest_ms: float, web_cpu: float = 0.8, lost: int = 0) -> dict:
    """One interleaved run: Régua and rasa_rest at constant latencies; CPU seconds for 100 messages."""
    regua = outcome(
        "regua",
        [regua_ms] * 100,
        {"web": web_cpu, "rasa": 2.2, "actions": 0.3, "bench": 0.5},
        lost=lost,
        breakdown={"twiml": {"replies": 180, "sids_recorded": 180}},
    )
    rest = outcome("rasa_rest", [rest_ms] * 100, {"rasa": 2.2, "actions": 0.3, "web": 0.0, "bench": 0.4})
    return {"side": side, "run": index, "regua": regua, "rasa_rest": rest}


def verdicts(runs: list[dict]) -> list[bool | None]:
    rows = [run_row(r) for r in runs]
    medians = {side: side_summary([r for r in rows if r["side"] == side]) for side in ("baseline", "change")}
    return [g["met"] for g in goals(medians)]


def test_the_benches_import_nothing_from_the_test_suite():
    for path in sorted(BENCH.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "tests" or n.startswith("tests.") for n in names), path


def test_each_debtor_sends_a_three_message_conversation_spread_over_the_run():
    people = [Person(n, f"whatsapp:+551199999{n:04d}") for n in range(10)]

    shots = plan(rate=10, duration=3, people=people)

    assert len(shots) == 30
    by_debtor: dict[int, list[int]] = {}
    for shot in shots:
        by_debtor.setdefault(shot.person.debtor_id, []).append(shot.index)
    assert all(indices == [d, d + 10, d + 20] for d, indices in by_debtor.items())


def test_twiml_replies_are_read_with_the_row_each_status_callback_names():
    content = (
        b'<?xml version="1.0" encoding="UTF-8"?><Response>'
        b'<Message action="http://x/webhooks/twilio/status?reply=41"><Body>oi</Body></Message>'
        b'<Message action="http://x/webhooks/twilio/status?reply=42"><Body>boleto</Body></Message>'
        b"</Response>"
    )

    assert twiml_replies(content) == [
        (41, "http://x/webhooks/twilio/status?reply=41"),
        (42, "http://x/webhooks/twilio/status?reply=42"),
    ]


def test_a_twiml_reply_without_its_callback_is_refused_rather_than_counted():
    with pytest.raises(ValueError):
        twiml_replies(b"<Response><Message>oi</Message></Response>")


def test_a_run_row_gives_the_ratios_to_rasa_rest_and_cpu_per_message():
    row = run_row(run("change", 1, regua_ms=40, rest_ms=32, web_cpu=0.8))

    assert (row["p50_ratio"], row["p99_ratio"]) == (1.25, 1.25)
    # Régua: web 0.8 + rasa 2.2 + actions 0.3 s over 100 messages; the load generator does not count.
    assert row["cpu_ms_per_message"] == 33.0
    assert row["rest_cpu_ms_per_message"] == 25.0
    assert row["web_cpu_ms_per_message"] == 8.0
    assert row["callbacks_recorded"] == row["twiml_replies"] == 180


def test_every_goal_passes_when_the_change_is_no_worse_than_the_baseline():
    runs = [run("baseline", n, 44, 32) for n in (1, 2, 3)] + [run("change", n, 40, 32) for n in (1, 2, 3)]

    assert verdicts(runs) == [True, True, True, True, True]


def test_the_latency_goals_fail_when_the_changes_median_ratio_is_worse():
    runs = [run("baseline", n, 40, 32) for n in (1, 2, 3)]
    runs += [run("change", 1, 36, 32), run("change", 2, 48, 32), run("change", 3, 48, 32)]

    assert verdicts(runs)[1:3] == [False, False]


def test_one_lost_reply_fails_the_first_goal():
    runs = [run("baseline", 1, 40, 32), run("change", 1, 40, 32, lost=1)]

    assert verdicts(runs)[0] is False


def test_the_cpu_goals_fail_beyond_their_limits():
    # Web 1.2 s per 100 messages: 12 ms each, and a total of 37 ms against rasa_rest's 25 ms (1.48x).
    runs = [run("baseline", 1, 40, 32), run("change", 1, 40, 32, web_cpu=1.2)]

    assert verdicts(runs)[3:] == [False, False]
