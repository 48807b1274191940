"""Régua's side of a run, read from its database and its RQ queue: waiting until every turn is settled,
draining leftovers between runs, and where a turn's time went (the breakdown of the report)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from bench.inbound.load import Shot
from bench.inbound.measure import ms, percentile
from bench.inbound.stack import Stack
from bench.inbound.twilio_side import chunks, read_records
from bot.db import Database
from bot.models import Direction, Message, MessageStatus, Processing, as_utc


def _unsettled(database: Database, sids: list[str], twiml_ids: set[int]) -> int:
    """How many of the messages `sids` are not answered yet: missing, pending, or with a reply not yet
    handed over (to the stand-in, or in a TwiML response: `twiml_ids`); three queries per 500 SIDs, cheap
    enough to poll during a run."""
    inbound = aliased(Message)
    missing = pending = unsent = 0
    with database.session() as session:
        for chunk in chunks(sids, 500):
            found = session.scalar(select(func.count()).where(Message.provider_sid.in_(chunk))) or 0
            missing += len(chunk) - found
            pending += (
                session.scalar(
                    select(func.count()).where(
                        Message.provider_sid.in_(chunk), Message.processing == Processing.PENDING
                    )
                )
                or 0
            )
            unsent += sum(
                1
                for reply_id in session.scalars(
                    select(Message.id)
                    .join(inbound, Message.in_reply_to_id == inbound.id)
                    .where(
                        inbound.provider_sid.in_(chunk),
                        Message.provider_sid.is_(None),
                        Message.status != MessageStatus.FAILED,
                    )
                )
                if reply_id not in twiml_ids
            )
    return missing + pending + unsent


def settle_regua(
    database: Database, sids: list[str], deadline: float, twiml_ids: set[int]
) -> tuple[dict[str, dict[str, Any]], dict[int, list[dict[str, Any]]], float]:
    """Wait until every message of `sids` is processed and all its replies handed over, to the stand-in
    or in a TwiML response (`twiml_ids`), or the deadline passes; return the inbound rows by SID, the
    replies by inbound message id, and the wall time the snapshot was taken at (a reply the stand-in
    received before it is in the snapshot: replies are committed before they are sent)."""
    while _unsettled(database, sids, twiml_ids) and time.time() < deadline:
        time.sleep(1.0)
    snapshot = time.time()
    inbound: dict[str, dict[str, Any]] = {}
    replies: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with database.session() as session:
        for chunk in chunks(sids, 500):
            for row in session.execute(
                select(
                    Message.id,
                    Message.provider_sid,
                    Message.processing,
                    Message.created_at,
                    Message.processed_at,
                    Message.conversation_id,
                ).where(Message.provider_sid.in_(chunk))
            ).mappings():
                inbound[row["provider_sid"]] = dict(row)
        ids = [row["id"] for row in inbound.values()]
        for chunk in chunks(ids, 500):
            for row in session.execute(
                select(
                    Message.id,
                    Message.in_reply_to_id,
                    Message.provider_sid,
                    Message.status,
                    Message.body,
                    Message.media,
                    Message.created_at,
                    Message.updated_at,
                )
                .where(Message.in_reply_to_id.in_(chunk), Message.direction == Direction.OUTBOUND)
                .order_by(Message.id)
            ).mappings():
                replies[row["in_reply_to_id"]].append(dict(row))
    return inbound, replies, snapshot


def drain(stack: Stack, timeout: float) -> float:
    """Wait until Régua has nothing left to do (queue empty, no job running, nothing pending in the
    database), so a run never overlaps the previous one's backlog. Returns the seconds waited."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    started = time.monotonic()
    queue = Queue("default", connection=stack.redis)
    registry = StartedJobRegistry(queue=queue)
    while time.monotonic() - started < timeout:
        with stack.database.session() as session:
            pending = session.scalar(
                select(func.count()).where(
                    or_(
                        Message.processing == Processing.PENDING,
                        Message.status.in_([MessageStatus.PENDING, MessageStatus.SENDING])
                        & Message.provider_sid.is_(None),
                    )
                )
            )
        if not pending and queue.count == 0 and registry.count == 0:
            break
        time.sleep(1.0)
    return time.monotonic() - started


def _ts(value: datetime | None) -> float | None:
    return None if value is None else as_utc(value).timestamp()  # type: ignore[union-attr]


# The jobs Régua's fallback enqueues, by function name: answer a conversation's pending messages; send its
# pending replies. Matched by name, not dotted path, so a tree whose engine lives elsewhere (the baseline of
# a comparison: `bot.jobs`, now `bot.conversation.jobs`) is measured alike.
PROCESS_JOB, DELIVER_JOB = "process_conversation", "deliver_conversation"
# Clock slack when matching a message's processed_at to a job's run (same machine, separate processes).
CLOCK_SLACK = 0.005


@dataclass(frozen=True)
class JobSpan:
    """One RQ job of a conversation: what it ran, when (wall clock), and how it ended."""

    func: str
    enqueued: float | None
    started: float | None
    ended: float | None
    failed: bool
    worked: bool  # process_conversation returned True: it answered at least one message


def rq_jobs(stack: Stack, conversation_ids: set[int]) -> dict[int, list[JobSpan]]:
    """Régua's fallback: the `bot.conversation.jobs` process/deliver jobs for `conversation_ids` found in the
    `default` queue and its registries (queued, scheduled, started, finished and failed; finished jobs
    are kept for bot.conversation.jobs.RESULT_TTL, 10 minutes, longer than a run), by conversation."""
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    queue = Queue("default", connection=stack.redis)
    ids = set(queue.get_job_ids())
    for registry in (FinishedJobRegistry, FailedJobRegistry, StartedJobRegistry, ScheduledJobRegistry):
        ids.update(registry(queue=queue).get_job_ids())
    found: dict[int, list[JobSpan]] = defaultdict(list)
    for job in Job.fetch_many(sorted(ids), connection=stack.redis):
        if job is None or not job.args or job.func_name.rpartition(".")[2] not in (PROCESS_JOB, DELIVER_JOB):
            continue
        if int(job.args[0]) not in conversation_ids:
            continue
        stamps = [
            None if d is None else (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()
            for d in (job.enqueued_at, job.started_at, job.ended_at)
        ]
        failed = job.is_failed
        worked = bool(job.ended_at and not failed and job.return_value())
        found[int(job.args[0])].append(
            JobSpan(job.func_name.rpartition(".")[2], *stamps, failed=failed, worked=worked)
        )
    return found


def _job_that_processed(spans: list[JobSpan], processed: float) -> JobSpan | None:
    """The `process_conversation` job that was running when a message was marked done, if any."""
    for span in spans:
        if span.func != PROCESS_JOB or span.started is None:
            continue
        if span.started - CLOCK_SLACK <= processed <= (span.ended or math.inf) + CLOCK_SLACK:
            return span
    return None


def regua_breakdown(
    stack: Stack,
    shots: list[Shot],
    inbound: dict[str, dict[str, Any]],
    replies: dict[int, list[dict[str, Any]]],
    finished_at: dict[str, float],
    accepted: dict[str, float],
) -> dict[str, Any]:
    """Where a Régua turn's time goes, per completed message (medians and p95, in ms), and who answered.

    webhook (POST until the response: the inline answer included), stored (POST until the message row was
    written), processing (row written until the message was marked done: claim, reads, the Rasa turn with
    its actions, replies saved; a fallback message's queue wait included), delivery (marked done until the
    stand-in accepted the last reply: the replies claimed together, then one Twilio call and one update per
    reply, in sequence), and each Twilio call as the stand-in saw it.

    Who answered: *in request*, the last reply was accepted before the message's own webhook returned
    (answered inline); *by worker*, the message was marked done while an RQ `process_conversation` job of
    its conversation ran; anything else was answered after its webhook returned by another request that
    held the conversation. Plus the RQ jobs of the run's conversations: process jobs (and how many found
    nothing to do) and deliver jobs (reply retries).
    """
    conversation_ids = {row["conversation_id"] for row in inbound.values()}
    jobs = rq_jobs(stack, conversation_ids)
    phases: dict[str, list[float]] = defaultdict(list)
    in_request = by_worker = 0
    for shot in shots:
        row = inbound.get(shot.key)
        if row is None or shot.key not in finished_at:
            continue
        created, processed = _ts(row["created_at"]), _ts(row["processed_at"])
        phases["webhook"].append(shot.t_resp - shot.t_send)
        if created is not None:
            phases["stored"].append(created - shot.t_send)
            if processed is not None:
                phases["processing"].append(processed - created)
        worker_job = None
        if processed is not None:
            phases["delivery"].append(finished_at[shot.key] - processed)
            worker_job = _job_that_processed(jobs.get(row["conversation_id"], []), processed)
        if worker_job is not None:
            by_worker += 1
            if worker_job.enqueued is not None and worker_job.started is not None:
                phases["fallback_queue_wait"].append(worker_job.started - worker_job.enqueued)
        elif finished_at[shot.key] <= shot.t_resp:
            in_request += 1
        phases["replies"].append(len(replies.get(row["id"], [])))
    per_reply_send = [
        r["t_out"] - r["t_in"]
        for r in read_records(stack.records)
        if r.get("sid") in accepted and r.get("to")
    ]
    all_jobs = [j for spans in jobs.values() for j in spans]
    process_jobs = [j for j in all_jobs if j.func == PROCESS_JOB]
    summary: dict[str, Any] = {}
    for name, values in phases.items():
        if name == "replies":
            summary["replies_per_turn"] = round(sum(values) / len(values), 2) if values else None
            continue
        summary[f"{name}_p50_ms"] = ms(percentile(values, 50))
        summary[f"{name}_p95_ms"] = ms(percentile(values, 95))
    summary["stand_in_call_p50_ms"] = ms(percentile(per_reply_send, 50))
    completed = len(finished_at)
    summary["answered"] = {
        "completed": completed,
        "in_request": in_request,
        "by_worker": by_worker,
        "by_other_request": completed - in_request - by_worker,
    }
    summary["rq_jobs"] = {
        "process": len(process_jobs),
        "process_found_nothing": sum(1 for j in process_jobs if j.ended and not (j.worked or j.failed)),
        "process_failed": sum(1 for j in process_jobs if j.failed),
        "process_not_finished": sum(1 for j in process_jobs if j.ended is None and not j.failed),
        "deliver": sum(1 for j in all_jobs if j.func == DELIVER_JOB),
    }
    return summary
