"""One measured run per system: Régua (signed webhooks in, replies handed to Twilio out), Rasa's bare REST
turn and Rasa's twilio channel; and the unmeasured warm-up before them."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.inbound.constants import REQUEST_TIMEOUT
from bench.inbound.load import LoadGenerator, Person, Shot
from bench.inbound.measure import Outcome, cpu_delta, max_lag, ms, percentile
from bench.inbound.settle import drain, regua_breakdown, settle_regua
from bench.inbound.stack import Stack
from bench.inbound.twilio_side import (
    chunks,
    inbound_form,
    play_twilio_callbacks,
    post_inbound,
    read_records,
    signed_forms,
    stand_in_excess,
    twiml_replies,
)
from bot.models import Processing


def run_regua(
    stack: Stack,
    gen: LoadGenerator,
    shots: list[Shot],
    rate: float,
    settle: float,
    before_callbacks: Callable[[], None] | None = None,
) -> Outcome:
    """Régua: signed webhooks in (answered inline, or by a worker for what had to wait), replies accepted
    by the stand-in out."""
    forms = signed_forms(shots)

    def call(session: requests.Session, shot: Shot) -> tuple[int, Any]:
        response = post_inbound(stack.web_url, forms[shot.index], session)
        return response.status_code, twiml_replies(response.content) if response.ok else []

    cpu_before = stack.cpu()
    gen.run(shots, rate, call)
    # Replies handed over in a webhook's TwiML response, by reply row id: when (the response) and how often.
    twiml_at: dict[int, float] = {}
    twiml_seen: Counter[int] = Counter()
    for shot in shots:
        for reply_id, _ in shot.payload or []:
            twiml_seen[reply_id] += 1
            twiml_at.setdefault(reply_id, shot.t_resp)
    inbound, replies, snapshot = settle_regua(
        stack.database, [s.key for s in shots], time.time() + settle, set(twiml_at)
    )
    cpu = cpu_delta(cpu_before, stack.cpu())
    # Only what the stand-in received before the snapshot: later sends have rows the snapshot lacks.
    records = [r for r in read_records(stack.records) if r["t_in"] < snapshot]
    accepted: dict[str, float] = {}
    sid_seen: Counter[str] = Counter()
    for record in records:
        if record.get("sid") and 200 <= record["status"] < 300:
            accepted[record["sid"]] = record["t_out"]
            sid_seen[record["sid"]] += 1

    latencies: list[float] = []
    by_path: dict[str, list[float]] = defaultdict(list)  # replies all in TwiML, or some through the API
    errors = lost = duplicates = reply_count = 0
    finished_at: dict[str, float] = {}
    for shot in shots:
        errors += not shot.ok
        row = inbound.get(shot.key)
        own = replies.get(row["id"], []) if row else []
        reply_count += len(own)
        complete = (
            shot.ok
            and row is not None
            and row["processing"] == Processing.DONE
            and bool(own)
            and all(r["id"] in twiml_at or r["provider_sid"] in accepted for r in own)
        )
        bodies = Counter((r["body"], json.dumps(r["media"] or [])) for r in own)
        if (
            any(n > 1 for n in bodies.values())
            or any(sid_seen[r["provider_sid"]] > 1 for r in own if r["provider_sid"])
            or any(twiml_seen[r["id"]] > 1 or (r["id"] in twiml_at and r["provider_sid"]) for r in own)
        ):
            duplicates += 1
        if not complete:
            lost += 1
            continue
        done = max(twiml_at[r["id"]] if r["id"] in twiml_at else accepted[r["provider_sid"]] for r in own)
        finished_at[shot.key] = done
        latencies.append(done - shot.t_send)
        by_path["twiml" if all(r["id"] in twiml_at for r in own) else "api"].append(done - shot.t_send)
    duplicates += stand_in_excess(shots, replies, inbound, records)
    addresses = {shot.person.twilio for shot in shots}
    refused = sum(1 for r in records if r.get("to") in addresses and r["status"] >= 400)
    outcome = Outcome(
        "regua", rate, len(shots), latencies, errors, lost, duplicates, max_lag(shots), reply_count
    )
    outcome.cpu = cpu
    outcome.refused = refused
    outcome.breakdown = regua_breakdown(stack, shots, inbound, replies, finished_at, accepted)
    outcome.breakdown["latency_by_path"] = {
        path: {
            "turns": len(values),
            "p50_ms": ms(percentile(values, 50)),
            "p99_ms": ms(percentile(values, 99)),
        }
        for path, values in sorted(by_path.items())
    }
    if before_callbacks is not None:
        before_callbacks()
    outcome.breakdown["twiml"] = play_twilio_callbacks(
        stack.web_url, stack.database, [item for shot in shots for item in shot.payload or []]
    )
    return outcome


def run_rasa_rest(stack: Stack, gen: LoadGenerator, shots: list[Shot], rate: float) -> Outcome:
    """Rasa's REST channel, with Régua's conversation id as the sender (the actions read the invoices)."""
    url = f"{stack.settings.rasa_url}/webhooks/rest/webhook"

    def call(session: requests.Session, shot: Shot) -> tuple[int, Any]:
        payload = {"sender": str(shot.person.conversation_id), "message": shot.text}
        response = session.post(
            url, json=payload, params={"token": stack.settings.rasa_auth_token}, timeout=REQUEST_TIMEOUT
        )
        return response.status_code, response.json() if response.status_code == 200 else None

    cpu_before = stack.cpu()
    gen.run(shots, rate, call)
    cpu = cpu_delta(cpu_before, stack.cpu())
    latencies: list[float] = []
    errors = lost = duplicates = reply_count = 0
    for shot in shots:
        errors += not shot.ok
        messages = shot.payload if shot.ok and isinstance(shot.payload, list) else []
        texts = [m.get("text") or m.get("image") for m in messages if isinstance(m, dict)]
        reply_count += len(texts)
        if any(n > 1 for n in Counter(texts).values()):
            duplicates += 1
        if not texts:
            lost += 1
            continue
        latencies.append(shot.t_resp - shot.t_send)
    outcome = Outcome(
        "rasa_rest", rate, len(shots), latencies, errors, lost, duplicates, max_lag(shots), reply_count
    )
    outcome.cpu = cpu
    return outcome


def run_rasa_twilio(stack: Stack, gen: LoadGenerator, shots: list[Shot], rate: float) -> Outcome:
    """Rasa's twilio channel: the webhook answers after its replies went to the stand-in."""
    assert stack.rasa_twilio_url is not None
    url = f"{stack.rasa_twilio_url}/webhooks/twilio/webhook"
    forms = signed_forms(shots)

    def call(session: requests.Session, shot: Shot) -> tuple[int, Any]:
        response = session.post(url, data=forms[shot.index], timeout=REQUEST_TIMEOUT)
        return response.status_code, None

    cpu_before = stack.cpu()
    gen.run(shots, rate, call)
    time.sleep(0.5)  # the proxy writes its record just after answering
    cpu = cpu_delta(cpu_before, stack.cpu())
    by_to: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in read_records(stack.records):
        if record.get("to"):
            by_to[record["to"]].append(record)
    latencies: list[float] = []
    errors = lost = duplicates = reply_count = refused = 0
    for shot in shots:
        errors += not shot.ok
        window = [
            r
            for r in by_to.get(shot.person.twilio, [])
            if shot.t_send - 0.01 <= r["t_in"] and r["t_out"] <= shot.t_resp + 0.05
        ]
        reply_count += len(window)
        good = [r for r in window if 200 <= r["status"] < 300]
        refused += len(window) - len(good)
        if any(n > 1 for n in Counter((r["body"], tuple(r.get("media") or [])) for r in good).values()):
            duplicates += 1
        if not shot.ok or not good or len(good) < len(window):
            lost += 1
            continue
        latencies.append(shot.t_resp - shot.t_send)
    outcome = Outcome(
        "rasa_twilio", rate, len(shots), latencies, errors, lost, duplicates, max_lag(shots), reply_count
    )
    outcome.cpu = cpu
    outcome.refused = refused
    return outcome


def warm_up(stack: Stack, people: list[Person], rest_people: list[Person], systems: Sequence[str]) -> None:
    """A few unmeasured turns per system: model graphs, connection pools and caches get warm."""
    texts = ["oi", "quero a segunda via do boleto", "quanto eu devo?", "como faço pra pagar?"]
    if "regua" in systems:
        # Régua answers inline in the web app: a few requests at once (one per debtor) so that every
        # gunicorn process and several of its threads have served a turn before the measured runs.
        forms = [inbound_form(person.twilio, texts[n % len(texts)]) for n, person in enumerate(people)]

        def post(form: dict[str, str]) -> list[tuple[int, str]]:
            response = post_inbound(stack.web_url, form)
            return twiml_replies(response.content) if response.ok else []

        for batch in chunks(forms, 4):
            with ThreadPoolExecutor(max_workers=len(batch)) as pool:
                handed = [item for items in pool.map(post, batch) for item in items]
            # Not waiting for a "sent" status: "sending" is one of the random statuses
            # the dynamic mock answers with; a provider SID is what "handed to the stand-in" means here.
            settle_regua(
                stack.database,
                [f["MessageSid"] for f in batch],
                time.time() + REQUEST_TIMEOUT,
                {reply_id for reply_id, _ in handed},
            )
            play_twilio_callbacks(stack.web_url, stack.database, handed)
        drain(stack, REQUEST_TIMEOUT)
    for person, message in zip(rest_people, texts, strict=False):
        if "rasa_rest" in systems:
            requests.post(
                f"{stack.settings.rasa_url}/webhooks/rest/webhook",
                json={"sender": str(person.conversation_id), "message": message},
                params={"token": stack.settings.rasa_auth_token},
                timeout=REQUEST_TIMEOUT,
            )
        if "rasa_twilio" in systems and stack.rasa_twilio_url:
            form = inbound_form(person.twilio, message)
            requests.post(
                f"{stack.rasa_twilio_url}/webhooks/twilio/webhook", data=form, timeout=REQUEST_TIMEOUT
            )
