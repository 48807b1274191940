"""The comparison's report: each interleaved run, the medians per side and issue 15's goals
(inbound-compare.md and inbound-compare.json)."""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.inbound.constants import FOREIGN_BUSY
from bench.inbound.measure import Outcome, ms, percentile
from bench.inbound.session import machine

# Issue 15's "Done when": total CPU per message of all Régua processes against Rasa's bare REST turn's, and
# the web app's own CPU per message.
CPU_RATIO_LIMIT = 1.35
WEB_CPU_LIMIT_MS = 10.0
SIDES = ("baseline", "change")
MEDIAN_KEYS = (
    "regua_p50",
    "regua_p99",
    "rest_p50",
    "rest_p99",
    "p50_ratio",
    "p99_ratio",
    "cpu_ms_per_message",
    "rest_cpu_ms_per_message",
    "cpu_ratio",
    "web_cpu_ms_per_message",
)


def cpu_ms(o: Outcome, component: str | None = None) -> float:
    """CPU milliseconds per message sent: of one component, or of every process under test (all but the
    load generator, as the rates report's *total*)."""
    if not o.sent:
        return 0.0
    seconds = o.cpu.get(component, 0.0) if component else sum(v for k, v in o.cpu.items() if k != "bench")
    return round(seconds * 1000 / o.sent, 2)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    """One interleaved run's numbers: latencies of both systems and their ratios, losses, CPU."""
    regua, rest = run["regua"], run["rasa_rest"]
    p = {
        f"{name}_{q}": ms(percentile(o.latencies, int(q[1:])))
        for name, o in (("regua", regua), ("rest", rest))
        for q in ("p50", "p99")
    }
    twiml = regua.breakdown.get("twiml", {})
    return {
        "side": run["side"],
        "run": run["run"],
        **p,
        "p50_ratio": _ratio(p["regua_p50"], p["rest_p50"]),
        "p99_ratio": _ratio(p["regua_p99"], p["rest_p99"]),
        "sent": regua.sent,
        "lost": regua.lost,
        "duplicates": regua.duplicates,
        "errors": regua.errors,
        "rest_lost": rest.lost,
        "rest_duplicates": rest.duplicates,
        "twiml_replies": twiml.get("replies", 0),
        "callbacks_recorded": twiml.get("sids_recorded", 0),
        "answered": regua.breakdown.get("answered", {}),
        "cpu_ms_per_message": cpu_ms(regua),
        "rest_cpu_ms_per_message": cpu_ms(rest),
        "cpu_ratio": _ratio(cpu_ms(regua), cpu_ms(rest)),
        "web_cpu_ms_per_message": cpu_ms(regua, "web"),
        "cpu_seconds": {"regua": regua.cpu, "rasa_rest": rest.cpu},
        "other_processes": max(regua.foreign, rest.foreign),
        "machine_busy": max(regua.host_busy, rest.host_busy),
    }


def side_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and the spread, min to max) of one side's runs; losses summed."""

    def values(key: str) -> list[float]:
        return [r[key] for r in rows if r[key] is not None]

    summary: dict[str, Any] = {"runs": len(rows)}
    for key in MEDIAN_KEYS:
        found = values(key)
        summary[key] = round(statistics.median(found), 3) if found else None
        summary[f"{key}_range"] = [min(found), max(found)] if found else None
    for key in ("lost", "duplicates", "errors", "twiml_replies", "callbacks_recorded"):
        summary[key] = sum(r[key] for r in rows)
    return summary


def goals(medians: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 15's performance goals, each with PASS/FAIL and the numbers behind it."""
    base, change = medians["baseline"], medians["change"]

    def no_worse(key: str) -> bool | None:
        if base[key] is None or change[key] is None:
            return None
        return change[key] <= base[key]

    unrecorded = change["twiml_replies"] - change["callbacks_recorded"]
    return [
        {
            "goal": "zero lost or duplicated replies (change; every TwiML reply's callback SID recorded)",
            "met": change["lost"] == 0 and change["duplicates"] == 0 and unrecorded == 0,
            "detail": f"lost {change['lost']}, duplicated {change['duplicates']}, callback SIDs not recorded "
            f"{unrecorded} (baseline: lost {base['lost']}, duplicated {base['duplicates']})",
        },
        {
            "goal": "the change's median p50 ratio to rasa_rest no worse than the baseline's",
            "met": no_worse("p50_ratio"),
            "detail": f"change {_x(change['p50_ratio'])}, baseline {_x(base['p50_ratio'])}",
        },
        {
            "goal": "the change's median p99 ratio to rasa_rest no worse than the baseline's",
            "met": no_worse("p99_ratio"),
            "detail": f"change {_x(change['p99_ratio'])}, baseline {_x(base['p99_ratio'])}",
        },
        {
            "goal": f"total CPU per message of all Régua processes ≤ {CPU_RATIO_LIMIT}× Rasa REST's",
            "met": None if change["cpu_ratio"] is None else change["cpu_ratio"] <= CPU_RATIO_LIMIT,
            "detail": f"change {_x(change['cpu_ratio'])} ({_n(change['cpu_ms_per_message'])} vs "
            f"{_n(change['rest_cpu_ms_per_message'])} ms), baseline {_x(base['cpu_ratio'])}",
        },
        {
            "goal": f"web CPU per message ≤ {WEB_CPU_LIMIT_MS:g} ms",
            "met": None
            if change["web_cpu_ms_per_message"] is None
            else change["web_cpu_ms_per_message"] <= WEB_CPU_LIMIT_MS,
            "detail": f"change {_n(change['web_cpu_ms_per_message'])} ms, "
            f"baseline {_n(base['web_cpu_ms_per_message'])} ms",
        },
    ]


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _n(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ms0(value: float | None) -> str:
    return _n(value, 0)


def _span(summary: dict[str, Any], key: str, fmt: Any = _x) -> str:
    found = summary.get(f"{key}_range")
    return "—" if not found else f"{fmt(found[0])} – {fmt(found[1])}"


def noise_notes(rows: list[dict[str, Any]], medians: dict[str, dict[str, Any]], runs: int) -> list[str]:
    """What the machine's noise allows one to conclude."""
    notes = []
    busy = [r for r in rows if r["other_processes"] > FOREIGN_BUSY]
    if busy:
        which = ", ".join(f"{r['side']} {r['run']} ({r['other_processes']:.0%})" for r in busy)
        notes.append(
            "**The machine was not quiet**: processes the bench did not start used more than "
            f"{FOREIGN_BUSY:.0%} of its CPU during: {which}. Those runs are slower and noisier than on a "
            "quiet machine."
        )
    else:
        notes.append(
            f"Processes the bench did not start used at most {FOREIGN_BUSY:.0%} of the CPU in every run."
        )
    rest_spread = [
        f"{side}: rasa_rest p99 {_span(medians[side], 'rest_p99', _ms0)} ms, "
        f"Régua/rasa_rest p99 ratio {_span(medians[side], 'p99_ratio')}"
        for side in SIDES
    ]
    notes.append(
        "Noise: the same code moves from run to run (" + "; ".join(rest_spread) + "). A difference between "
        "the sides' medians smaller than these spreads is not a measured difference"
        + (f"; with {runs} run(s) per side the medians themselves are rough." if runs < 5 else ".")
    )
    notes.append(
        "CPU per message: user + system time of each process tree over the run, per message sent. Régua's "
        "total counts its web app, workers, action server, Rasa, the Twilio stand-in and Redis; Rasa REST's "
        "the same processes during its own run (Rasa and the action server do the work). PostgreSQL's own "
        "CPU is not counted on either side."
    )
    return notes


def write_compare(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    *,
    commits: dict[str, str],
    models: dict[str, str],
    database: str,
    elapsed: float,
) -> tuple[Path, Path]:
    """inbound-compare.json and inbound-compare.md in `args.output`; their paths."""
    rows = [run_row(run) for run in runs]
    medians = {side: side_summary([r for r in rows if r["side"] == side]) for side in SIDES}
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rate": args.rate,
        "duration_s": args.duration,
        "runs_per_side": args.runs,
        "elapsed_s": round(elapsed),
        "commits": commits,
        "models": models,
        "database": database,
        "web_concurrency": args.web_concurrency,
        "workers": args.workers,
        "machine": machine(),
        "runs": rows,
        "medians": medians,
        "goals": goals(medians),
        "notes": noise_notes(rows, medians, args.runs),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.output / "inbound-compare.json", args.output / "inbound-compare.md"
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(compare_markdown(result))
    return json_path, md_path


def compare_markdown(result: dict[str, Any]) -> str:
    """inbound-compare.md."""
    m = result["machine"]
    lines = [
        "# Inbound turn: baseline against the change, interleaved",
        "",
        "`python -m bench.inbound compare` (bench/inbound/compare.py): the same load generator and",
        "measurement for both sides, only the app under test differs. Each run: a fresh PostgreSQL database",
        "migrated and loaded by that side's tree, that tree's processes, a warm-up, then Régua and Rasa's",
        f"bare REST turn (rasa_rest, same Rasa and action server) at {result['rate']:g} msg/s for",
        f"{result['duration_s']:g} s each. Order: baseline, change, baseline, change, ...",
        "",
        f"- baseline: `{result['commits']['baseline']}` (model {result['models']['baseline']})",
        f"- change: `{result['commits']['change']}` (model {result['models']['change']})",
        f"- machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']}; database {result['database']};",
        f"  Régua WEB_CONCURRENCY={result['web_concurrency']} (4 threads each), "
        f"{result['workers']} worker(s);",
        f"  {result['runs_per_side']} run(s) per side in {result['elapsed_s'] / 60:.0f} minutes; "
        f"measured at {result['generated_at']}.",
        "",
        "## Each run",
        "",
        "Latencies in ms (p50 / p99); *ratio*: Régua over rasa_rest in the same run; *lost / dup*: Régua's",
        "(rasa_rest's in parentheses); *callbacks*: TwiML replies whose SID Régua recorded from the status",
        "callback the bench posted, of all TwiML replies; CPU in ms per message (*CPU regua*: every process",
        "under test; *web*: the web app alone); *other*: CPU share of processes the bench did not start.",
        "",
        "| side | run | regua p50 / p99 | rasa_rest p50 / p99 | ratio p50 | ratio p99 | lost / dup "
        "| callbacks | CPU regua | CPU rasa_rest | CPU ratio | web CPU | other |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['side']} | {r['run']} | {_n(r['regua_p50'], 0)} / {_n(r['regua_p99'], 0)} "
            f"| {_n(r['rest_p50'], 0)} / {_n(r['rest_p99'], 0)} "
            f"| {_x(r['p50_ratio'])} | {_x(r['p99_ratio'])} "
            f"| {r['lost']} / {r['duplicates']} ({r['rest_lost']} / {r['rest_duplicates']}) "
            f"| {r['callbacks_recorded']} / {r['twiml_replies']} | {_n(r['cpu_ms_per_message'])} "
            f"| {_n(r['rest_cpu_ms_per_message'])} | {_x(r['cpu_ratio'])} "
            f"| {_n(r['web_cpu_ms_per_message'])} "
            f"| {r['other_processes']:.0%} |"
        )
    lines += [
        "",
        "## Medians per side",
        "",
        "| side | runs | regua p50 / p99 | rasa_rest p50 / p99 | ratio p50 | ratio p99 | lost / dup "
        "| CPU regua | CPU rasa_rest | CPU ratio | web CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for side in SIDES:
        s = result["medians"][side]
        lines.append(
            f"| {side} | {s['runs']} | {_n(s['regua_p50'], 0)} / {_n(s['regua_p99'], 0)} "
            f"| {_n(s['rest_p50'], 0)} / {_n(s['rest_p99'], 0)} "
            f"| {_x(s['p50_ratio'])} | {_x(s['p99_ratio'])} "
            f"| {s['lost']} / {s['duplicates']} | {_n(s['cpu_ms_per_message'])} "
            f"| {_n(s['rest_cpu_ms_per_message'])} | {_x(s['cpu_ratio'])} "
            f"| {_n(s['web_cpu_ms_per_message'])} |"
        )
    lines += ["", "## Goals (issue 15)", ""]
    verdict = {True: "**PASS**", False: "**FAIL**", None: "**not evaluated**"}
    for g in result["goals"]:
        lines.append(f"- {verdict[g['met']]} {g['goal']}: {g['detail']}.")
    lines += ["", "## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    return "\n".join(lines)
