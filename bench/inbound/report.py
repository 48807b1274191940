"""The report of a measuring session: the goal, inbound.md (tables, breakdown, CPU, profile) and its notes."""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench.inbound.constants import (
    DEFAULT_WEB_CONCURRENCY,
    DEFAULT_WORKERS,
    FOREIGN_BUSY,
    GOAL_FACTOR,
    GOAL_RATE,
    SYSTEMS,
)
from bench.inbound.measure import Outcome, ms, percentile


def goal(outcomes: list[Outcome]) -> dict[str, Any]:
    """Régua's p99 at 20 msg/s no worse than 1.5x Rasa's bare REST p99, with zero lost or duplicated."""
    regua = next((o for o in outcomes if o.system == "regua" and o.rate == GOAL_RATE), None)
    rest = next((o for o in outcomes if o.system == "rasa_rest" and o.rate == GOAL_RATE), None)
    text_goal = (
        f"Régua's p99 no worse than {GOAL_FACTOR}× Rasa's bare REST turn at {GOAL_RATE:g} messages/s, "
        "with zero lost or duplicated replies"
    )
    if regua is None or rest is None:
        return {
            "goal": text_goal,
            "met": None,
            "detail": f"no regua and rasa_rest runs at {GOAL_RATE:g}/s",
        }
    regua_p99, rest_p99 = percentile(regua.latencies, 99), percentile(rest.latencies, 99)
    if regua_p99 is None or rest_p99 is None:
        return {"goal": text_goal, "met": False, "detail": "no completed turns to compare"}
    limit = GOAL_FACTOR * rest_p99
    met = regua_p99 <= limit and regua.lost == 0 and regua.duplicates == 0
    detail = (
        f"regua p99 {regua_p99 * 1000:.0f} ms vs limit {limit * 1000:.0f} ms "
        f"({GOAL_FACTOR}× rasa_rest p99 {rest_p99 * 1000:.0f} ms; ratio {regua_p99 / rest_p99:.2f}×), "
        f"lost {regua.lost}, duplicates {regua.duplicates}"
    )
    return {"goal": text_goal, "met": met, "detail": detail, "ratio": round(regua_p99 / rest_p99, 2)}


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def markdown(result: dict[str, Any], outcomes: list[Outcome]) -> str:
    """inbound.md."""
    m = result["machine"]
    g = result["goal"]
    verdict = {True: "**met**", False: "**not met**", None: "**not evaluated**"}[g["met"]]
    lines = [
        "# Inbound turn benchmark",
        "",
        "`python -m bench.inbound` measures one full conversation turn at rising message rates (open loop:",
        "each message is sent on schedule whatever the answers) for three systems on the same trained Rasa",
        "model, action server, Redis tracker/lock store and machine. See the docstring of bench/inbound/",
        "for every detail.",
        "",
        "- **regua**: signed Twilio-style webhook → Régua's web app (gunicorn) → message saved → answered",
        "  inline in the same request, within a 1 s budget: Rasa REST channel → action server (reads the",
        "  debtor's invoices) → replies saved → handed back as TwiML in the webhook's response (one",
        "  `<Message>` each, with a status callback naming its row; more than ten go through Twilio's REST",
        "  API to the local stand-in). What the request cannot finish (Rasa down or slow, a burst beyond the",
        "  budget, a conversation claimed by another request) is left pending for an RQ worker. Latency:",
        "  webhook POST until the *last* reply was handed to Twilio (the response that carried it as TwiML,",
        "  or the stand-in's answer, recorded by a proxy in front of it). After each run the bench posts",
        "  each TwiML reply's status callback, as Twilio would, and checks its SID was recorded.",
        "- **rasa_rest**: `POST /webhooks/rest/webhook` on the same Rasa server, sender = Régua's",
        "  conversation id (so the actions read the same invoices). Latency: response time.",
        "- **rasa_twilio**: Rasa's built-in `twilio` channel (second Rasa process, same model and",
        "  endpoints), its REST calls redirected to the same stand-in. Rasa sends the replies before",
        "  answering the webhook",
        "  (`await on_new_message(...)`, then 204), so latency = webhook response time. Its sender id is the",
        "  phone address, which Régua's actions cannot map to a debtor: they answer the short unknown-number",
        "  text without reading invoices (a lighter turn than the other two).",
        "",
        f"Each run: {result['duration_s']:g} s per rate, fresh debtors per run, each sending a",
        'three-message conversation (greeting; "quanto devo" or a payment question; "segunda via", the other',
        f"question or thanks). Turns not complete {result['settle_timeout_s']:g} s after the last send are",
        "lost; a request error also makes the message lost.",
        "",
        f"Machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']}. Database: {result['database']}. "
        f"Redis: db {result['redis_db']}. Régua: gunicorn WEB_CONCURRENCY={result['web_concurrency']} "
        f"(4 threads each) answering inline, {result['workers']} RQ worker(s) for the fallback. "
        f"Stand-in: {result['stand_in']}.",
        f"Measured at {result['generated_at']}.",
        "",
        "| system | rate (msg/s) | sent | p50 (ms) | p95 (ms) | p99 (ms) | errors | lost | duplicates "
        "| replies | max send lag (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for system in SYSTEMS:
        for o in outcomes:
            if o.system != system:
                continue
            row = o.row()
            lines.append(
                f"| {system} | {o.rate:g} | {o.sent} | {_fmt(row['p50_ms'])} | {_fmt(row['p95_ms'])} | "
                f"{_fmt(row['p99_ms'])} | {o.errors} | {o.lost} | {o.duplicates} | {o.replies} | "
                f"{o.max_lag * 1000:.0f} |"
            )
    lines += ["", f"**Goal**: {g['goal']}: {verdict} — {g['detail']}.", ""]
    breakdown = [o for o in outcomes if o.system == "regua" and o.breakdown]
    if breakdown:
        lines += [
            "## Where a Régua turn's time goes",
            "",
            "Per completed message, p50 / p95 in ms. *webhook*: POST until its response (which now",
            "includes the inline answer); *stored*: POST until the message row was written; *processing*:",
            "row written until the message was marked done (conversation claimed, reads, the Rasa REST turn",
            "with its actions, replies saved; for a message left to a worker, its queue wait too);",
            "*delivery*: marked done until the last reply was handed to Twilio (replies saved and the",
            "conversation released in the same transaction, then the TwiML response; through the API, per",
            "reply in sequence: Twilio call, then the SIDs recorded). The rasa_rest p50 at the same rate is",
            "the bare Rasa turn for comparison. *TwiML / API*: turns whose replies all went back in a TwiML",
            "response, and the others; *callbacks*: TwiML replies whose SID Régua recorded from the status",
            "callback the bench posted after the run, of all TwiML replies.",
            "",
            "*Who answered* (completed messages): *request*, the last reply was handed over by the time the",
            "message's own webhook returned (answered inline); *worker*, the message was marked done while",
            "an RQ `process_conversation` job of its conversation ran (the fallback); *other*, answered",
            "after its webhook returned by another request that held the conversation. *RQ jobs*: the",
            "`process_conversation` jobs of the run's conversations in the queue's registries (in",
            "parentheses: how many found nothing to do) and the `deliver_conversation` jobs (reply retries).",
            "",
            "| rate | webhook | stored | processing | rasa_rest p50 | delivery | replies/turn "
            "| TwiML / API turns | callbacks | stand-in call p50 | answered: request / worker / other "
            "| RQ jobs: process (idle) / deliver |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rest_by_rate = {o.rate: o for o in outcomes if o.system == "rasa_rest"}
        for o in breakdown:
            b = o.breakdown
            rest = rest_by_rate.get(o.rate)
            rest_p50 = _fmt(ms(percentile(rest.latencies, 50))) if rest else "—"

            def pair(name: str, b: dict[str, Any] = b) -> str:
                return f"{_fmt(b.get(name + '_p50_ms'))} / {_fmt(b.get(name + '_p95_ms'))}"

            who, jobs = b.get("answered", {}), b.get("rq_jobs", {})
            answered = " / ".join(str(who.get(k, 0)) for k in ("in_request", "by_worker", "by_other_request"))
            idle = jobs.get("process_found_nothing", 0)
            paths = b.get("latency_by_path", {})
            turns = " / ".join(str(paths.get(k, {}).get("turns", 0)) for k in ("twiml", "api"))
            twiml = b.get("twiml", {})
            callbacks = f"{twiml.get('sids_recorded', 0)} / {twiml.get('replies', 0)}"
            lines.append(
                f"| {o.rate:g} | {pair('webhook')} | {pair('stored')} | {pair('processing')} | {rest_p50} | "
                f"{pair('delivery')} | {b.get('replies_per_turn')} | {turns} | {callbacks} | "
                f"{b.get('stand_in_call_p50_ms') or 0:.1f} | {answered} | "
                f"{jobs.get('process', 0)} ({idle}) / {jobs.get('deliver', 0)} |"
            )
        lines.append("")
    components = sorted({name for o in outcomes for name in o.cpu} - {"bench"})
    if components:
        lines += [
            "## CPU per message (ms of CPU time per message sent, by process tree)",
            "",
            "*total*: the system under test (every column but *bench*, the load generator); *share*: that",
            "total times the rate, over the machine's cores (what the system needs at that rate); *machine",
            "busy*: non-idle CPU of the whole machine during the run; *other processes*: the part of it used",
            "by processes the bench did not start (other people's work on this shared machine).",
            "",
            "| system | rate | "
            + " | ".join(components)
            + " | bench | total | share | machine busy | other processes |",
            "| --- | ---: | "
            + " | ".join("---:" for _ in components)
            + " | ---: | ---: | ---: | ---: | ---: |",
        ]
        for system in SYSTEMS:
            for o in outcomes:
                if o.system != system or not o.sent:
                    continue
                cells = [f"{o.cpu.get(c, 0.0) * 1000 / o.sent:.1f}" for c in [*components, "bench"]]
                total = sum(o.cpu.get(c, 0.0) for c in components) * 1000 / o.sent
                share = total * o.rate / 1000 / (os.cpu_count() or 1)
                lines.append(
                    f"| {system} | {o.rate:g} | "
                    + " | ".join(cells)
                    + f" | {total:.1f} | {share:.0%} | {o.host_busy:.0%} | {o.foreign:.0%} |"
                )
        lines.append("")
    if result.get("profile"):
        lines += profile_markdown(result["profile"])
    lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    return "\n".join(lines)


def profile_markdown(profile: dict[str, Any]) -> list[str]:
    """The profile section of inbound.md."""
    under = profile["run_under_profiler"]
    groups = ("web", "worker", "actions")
    lines = [
        f"## Profile: Régua at {profile['rate']:g} msg/s under py-spy",
        "",
        f"An extra run of {profile['messages']} messages after the measured ones, with py-spy sampling the",
        "web app (which answers the turns inline), every worker (the fallback) and the action server at",
        f"{profile['sample_hz']} Hz (non-idle samples, non-blocking). Not part of the tables above: the",
        f"profiler costs CPU too (p50/p99 under the profiler {_fmt(under['p50_ms'])}/{_fmt(under['p99_ms'])}",
        "ms). Share of each process group's samples, charged to the innermost frame that belongs to a",
        "known library, and the group's CPU time per message from its own counters:",
        "",
        "| library | web | worker | actions |",
        "| --- | ---: | ---: | ---: |",
    ]
    names = list(dict.fromkeys(n for g in groups for n in profile[g]["by_library_pct"]))
    for name in names:
        cells = [f"{profile[g]['by_library_pct'].get(name, 0.0):.0f}%" for g in groups]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cpu = [f"**{profile[g]['cpu_ms_per_message']:.1f}**" for g in groups]
    lines += ["| **CPU ms per message** | " + " | ".join(cpu) + " |", ""]
    lines += [
        "Share of the samples inside the busiest functions (their own time plus what they call):",
        "",
        "| process | function | share |",
        "| --- | --- | ---: |",
    ]
    for group in groups:
        for name, value in list(profile[group]["top_inclusive_pct"].items())[:14]:
            lines.append(f"| {group} | `{name}` | {value:.0f}% |")
    lines += [
        "",
        "Hottest lines of Régua's own code (the innermost Régua frame of each sample, whatever library",
        "runs below it):",
        "",
        "| process | line | share |",
        "| --- | --- | ---: |",
    ]
    for group in ("web", "worker"):
        for name, value in list(profile[group]["hot_call_sites_pct"].items())[:12]:
            lines.append(f"| {group} | `{name}` | {value:.0f}% |")
    lines.append("")
    return lines


def notes(args: argparse.Namespace, outcomes: list[Outcome]) -> list[str]:
    """The report's notes: niceness, how quiet the machine was, Régua's processes, the stand-in."""
    notes: list[str] = []
    if args.nice:
        notes.append(
            f"The bench and every process it started ran at niceness {args.nice} (--nice; also set on their "
            "scheduler autogroups), so that other work on this shared machine took CPU mostly when they did "
            "not need it."
        )
    disturbed = [o for o in outcomes if o.busy or o.foreign > FOREIGN_BUSY]
    if disturbed:
        runs_text = ", ".join(
            f"{o.system}@{o.rate:g} ({o.foreign:.0%}{', rasa test/train' if o.busy else ''})"
            for o in disturbed
        )
        notes.append(
            "**The machine was not quiet**: processes the bench did not start (other people's `rasa test`, "
            f"pytest, ...) used more than {FOREIGN_BUSY:.0%} of its CPU during: {runs_text}. Those rows are "
            "slower than on a quiet machine; compare systems at the same rate, and read the *other "
            "processes* column of the CPU table."
        )
    else:
        notes.append(
            f"The machine was quiet: processes the bench did not start used at most {FOREIGN_BUSY:.0%} of "
            "its CPU during every run, and no `rasa test`/`rasa train` ran."
        )
    threads = args.web_concurrency * 4
    notes.append(
        f"Régua's processes: gunicorn WEB_CONCURRENCY={args.web_concurrency} (default "
        f"{DEFAULT_WEB_CONCURRENCY}) and {args.workers} RQ worker(s) (default {DEFAULT_WORKERS}). The web "
        "app answers every turn inline, so its threads are Régua's turn concurrency: each process runs 4 "
        "threads (`WEB_THREADS`, default 4), and a turn is mostly waiting on Rasa (its replies go back in "
        "the response, with no API call), so by Little's law 30 msg/s x ~0.04-0.1 s per turn keeps 1-3 "
        f"requests in flight, well within {args.web_concurrency} x 4 = {threads} threads; beyond "
        f"{threads} requests queue in gunicorn, where the "
        "1 s budget (counted from the request's start, in the app) does not see the wait. "
        "Python code holds the GIL, so one process runs one request's Python code at a time; more "
        "processes were tried on 2026-11-23 (5 x 4 threads, gunicorn's (2 x cores) + 1): at 20 msg/s "
        "one run had a lower p99 and a full run a higher one than 2 x 4, and both settings saturated "
        "this (slower that day) machine at 30 msg/s; on 2026-12-04, 4 single-threaded processes gave "
        "the same p50 and a higher p99 at 20 msg/s, so the default stays 2 x 4. The workers "
        "only take what the webhook left (Rasa "
        "down or slow, a burst beyond the budget, a conversation claimed by another request), reply "
        "retries and the minute sweep; one, as in the Procfile, is enough while that is rare (see *who "
        "answered* above)."
    )
    if args.stand_in == "prism":
        notes.append(
            "Stand-in: Prism in dynamic mock mode (-d: a random SID per message, as Régua's unique "
            "provider_sid needs) with request validation (--errors), behind bench/twilio_recorder.py, which "
            "rewrites Twilio's repeated MediaUrl form keys to MediaUrl[] (Prism 5.16 refuses the former). "
            "Prism's CPU (see the CPU table) is spent only in the regua and rasa_twilio runs."
        )
    else:
        notes.append(
            "Stand-in: bench/twilio_recorder.py answering Messages.json itself (Twilio's checks for the "
            "parameters used; a fresh SID per message). Prism, the first choice, refuses valid Twilio "
            "requests with media (Twilio's client sends MediaUrl as repeated form keys; Prism 5.16 wants "
            "MediaUrl[]) and costs ~6 ms CPU per message on this 2-core machine; `--stand-in prism` still "
            "runs it (with the recorder rewriting MediaUrl) to check requests against Twilio's OpenAPI file."
        )
    if args.twilio_latency_ms:
        notes.append(
            f"Twilio's API latency: the stand-in held every answer {args.twilio_latency_ms:g} ms "
            "(--twilio-latency-ms), as the real API takes a few hundred milliseconds per message."
        )
    else:
        notes.append(
            "The stand-in answers at once (under a millisecond), while the real Twilio API takes a few "
            "hundred milliseconds per message. Rasa's twilio channel sends a turn's replies one after the "
            "other inside the webhook request, so with the real API its latency grows by that much per "
            "reply; Régua hands up to ten replies back in the webhook's TwiML response (no API call) and "
            "sends only longer answers (over SMS in short parts, say) through the "
            "API the same way; rasa_rest sends nothing. `--twilio-latency-ms` measures that."
        )
    refused = sum(o.refused for o in outcomes)
    notes.append(
        f"Requests the stand-in refused (4xx) during the measured runs: {refused}."
        + (" Each one is a lost reply." if refused else "")
    )
    notes.append(
        "Régua's reply-loop guard (bot/conversation/abuse.py: 10 answered messages of one conversation "
        "within 2 minutes, or the same text 3 times within 5 minutes, stop automatic answers) cannot trip "
        "on the bench's three different messages per debtor; a guard hit would show as a lost message "
        "(ignored, no reply)."
    )
    return notes
