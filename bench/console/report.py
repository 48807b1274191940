"""The console benchmark's verdict and its report: the goals of issue 16, `console.json` and `console.md`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.inbound.measure import ms, percentile

PAGE_GOAL_MS = 150.0  # p95 server time of the queue page and of a conversation page
DELIVERY_GOAL_S = 2.0  # p95 from the webhook's POST to the owning agent's page showing the message
PAGES = ("queue_agent", "queue_supervisor", "conversation")
PAGE_NAMES = {
    "queue_agent": "Queue page `/console/` (an agent)",
    "queue_supervisor": "Queue page `/console/` (the supervisor: sees everything)",
    "conversation": "Conversation page `/console/conversas/<id>`",
    "novas": "Poll `/console/conversas/<id>/novas` (every 1 s per agent)",
    "novidades": "Poll `/console/novidades` (every 3 s per agent)",
    "webhook": "Inbound webhook `/webhooks/twilio/messages`",
}


def summary(seconds: list[float]) -> dict[str, Any]:
    """Count and p50/p95/p99/max in milliseconds of `seconds`."""
    return {
        "n": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds)) if seconds else None,
    }


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 16 with what was measured and whether it was met."""
    found = []
    for page in PAGES:
        server = result["server"].get(page, {})
        p95 = server.get("p95_ms")
        errors = result["errors"].get(page, 0)
        found.append(
            {
                "goal": f"{PAGE_NAMES[page]}: p95 server time ≤ {PAGE_GOAL_MS:.0f} ms",
                "measured": f"p95 {p95} ms over {server.get('n', 0)} requests, {errors} errors",
                "met": p95 is not None and p95 <= PAGE_GOAL_MS and errors == 0,
            }
        )
    page = result["delivery"]["page"]
    lost = result["delivery"]["lost"]
    found.append(
        {
            "goal": f"A new inbound message reaches the owning agent's open page: p95 ≤ "
            f"{DELIVERY_GOAL_S:g} s with {result['agents']} agents connected, none lost",
            "measured": f"p95 {page['p95_ms']} ms over {page['n']} messages, {lost} lost",
            "met": page["p95_ms"] is not None and page["p95_ms"] <= DELIVERY_GOAL_S * 1000 and lost == 0,
        }
    )
    return found


def write(result: dict[str, Any], output: Path) -> tuple[Path, Path]:
    """Write `console.json` and `console.md` into `output`; return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    data, text = output / "console.json", output / "console.md"
    data.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text.write_text(markdown(result), encoding="utf-8")
    return data, text


def _cell(value: Any) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _table(rows: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    lines = ["| what | n | p50 ms | p95 ms | p99 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name in names:
        if name in rows:
            r = rows[name]
            cells = [_cell(r[k]) for k in ("n", "p50_ms", "p95_ms", "p99_ms", "max_ms")]
            lines.append(f"| {PAGE_NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    """console.md: the machine, the data, the numbers against the goals, the verdict."""
    met = all(g["met"] for g in result["goals"])
    machine, data, delivery = result["machine"], result["data"], result["delivery"]
    seeded = f"yes, in {data['seed_seconds']} s" if data["seeded"] else "no (already there)"
    lines = [
        "# Console benchmark",
        "",
        "`python -m bench.console` (bench/console/): the agent console on PostgreSQL with a production-sized",
        "book, the real web app under gunicorn (as `regua web` starts it), agents logged in through the real",
        "login form and polling as the console's pages do, and debtors' messages sent through the real",
        "signed Twilio webhook. See the docstring of bench/console/ for every detail.",
        "",
        f"**Verdict: {'every goal met' if met else 'a goal was missed'}.**",
        "",
        "| goal | measured | met |",
        "| --- | --- | --- |",
        *[f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |" for g in result["goals"]],
        "",
        "## Machine and data",
        "",
        f"- machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"{machine['python']}, {machine['postgres']}",
        f"- run: {result['started_at']} (UTC), commit `{result['commit']}`, "
        f"{result['web_concurrency']} gunicorn processes × {result['web_threads']} threads; "
        f"machine busy {machine['busy_share']:.0%} during the measurements, "
        f"{machine['foreign_share']:.0%} of it by processes the bench did not start",
        f"- data: {data['conversations']:,} conversations ({data['waiting_agent']:,} waiting for a person, "
        f"{data['with_agent']:,} owned by the {result['agents']} agents, {data['bot']:,} with the bot), "
        f"{data['messages']:,} messages, {data['debtors']:,} debtors, {data['invoices']:,} invoices; "
        f"seeded in this run: {seeded}",
        "",
        "## Server time",
        "",
        "Gunicorn's own measure of each request (`%(D)s` in the access log: from the parsed request to the",
        f"response written), {result['page_requests']} requests per page, one after the other, while the",
        f"{result['agents']} agents poll. Each agent opens one of their conversations "
        f"({data['long_thread']} messages).",
        "",
        *_table(result["server"], [*PAGES, "novas", "novidades", "webhook"]),
        "",
        "CPU per request (the web app's processes and the PostgreSQL backends serving it), "
        f"{result.get('cost_requests')} of each",
        "one at a time once the agents stopped polling: what a request costs, whatever else the machine",
        "was doing.",
        "",
        "| what | CPU ms per request |",
        "| --- | ---: |",
        *[f"| {PAGE_NAMES[k]} | {v:,.1f} |" for k, v in result.get("cpu_ms", {}).items()],
        "",
        "Client time on loopback (an upper bound: includes the bench's own threads and Python):",
        "",
        *_table(result["client"], list(PAGES)),
        "",
        "## A new message reaching the agent",
        "",
        f"{delivery['sent']} debtor messages at {result['rate']:g}/s, round robin over the",
        f"{result['agents']} agents, each into the conversation that agent has open, through the signed",
        "Twilio webhook; the latency runs from just before the webhook's POST until the poll that first",
        "brought the message back returned. The page polls every second, so about half a second of it is",
        "the wait for the next poll.",
        "",
        "| path | n | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {name} | "
            + " | ".join(_cell(delivery[key][k]) for k in ("n", "p50_ms", "p95_ms", "p99_ms", "max_ms"))
            + " |"
            for key, name in (
                ("page", "open conversation page (`novas`, 1 s)"),
                ("alert", "alert (`novidades`, 3 s)"),
            )
        ],
        "",
        f"Lost (not on the page within {delivery['timeout_s']:g} s): {delivery['lost']}; webhook errors: "
        f"{delivery['webhook_errors']}; poll errors: {result['poll_errors']} "
        f"of {result['polls']} page polls {result.get('poll_error_kinds') or ''}.",
        "",
        "## Notes",
        "",
        *[f"- {note}" for note in result["notes"]],
        "",
    ]
    return "\n".join(lines)
