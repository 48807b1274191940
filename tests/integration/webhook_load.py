"""Debtors writing at a steady rate through the real signed webhook while something else happens (a model
swap), and what the database says about those messages afterwards: lost, answered twice, told the
assistant is unavailable, which model read them. Shared by the integration tests of issue 17 §6."""

from __future__ import annotations

import contextlib
import queue
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import texts
from bot.conversation import chat
from bot.models import Direction, Message, MessagePrediction, NluServing, Processing
from bot.nlu_serving import state
from bot.phones import Address
from tests.integration.conftest import Stack, new_debtor

RATE = 10.0  # messages per second, as issue 17 asks
TURNS_PER_DEBTOR = 3
TEXTS = ["oi", "quanto eu devo?", "como faço pra pagar?", "qual o valor da minha dívida?", "bom dia"]


@dataclass
class Sent:
    sid: str
    at: float  # wall clock, just before the webhook POST


@dataclass
class Tally:
    """What happened to the messages of a load."""

    messages: int
    lost: int  # not answered (not done, or no reply)
    answered_twice: int  # a reply repeated for one message
    outage_notices: int
    p99: float
    models: Counter[str]  # model file name -> messages it read


def _debtors(stack: Stack, stop: threading.Event) -> queue.Queue[str]:
    """Phones of fresh debtors, made ahead of the load by a thread until `stop`: each writes only
    `TURNS_PER_DEBTOR` different messages, as a person would (more, faster, or the same text again, and
    Régua's reply-loop guard rightly stops answering: bot/conversation/abuse.py)."""
    phones: queue.Queue[str] = queue.Queue(maxsize=100)

    def make() -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                phones.put(new_debtor(stack.database)[1], timeout=0.5)

    threading.Thread(target=make, daemon=True).start()
    return phones


def _load(stack: Stack, stop: threading.Event) -> list[Sent]:
    """Signed webhooks at `RATE` (open loop), `TURNS_PER_DEBTOR` per debtor, until `stop`."""
    phones = _debtors(stack, stop)
    sent: list[Sent] = []
    start = time.monotonic()
    phone = ""
    with ThreadPoolExecutor(max_workers=32) as pool:
        index = 0
        while not stop.is_set():
            due = start + index / RATE
            time.sleep(max(0.0, due - time.monotonic()))
            if index % TURNS_PER_DEBTOR == 0:
                phone = phones.get()
            form = chat.inbound_form(stack.settings, Address("whatsapp", phone), TEXTS[index % len(TEXTS)])
            sent.append(Sent(form["MessageSid"], time.time()))
            pool.submit(chat.post, stack.settings, stack.web_url, chat.MESSAGES_PATH, form)
            index += 1
    return sent


def tally(stack: Stack, sent: list[Sent]) -> Tally:
    """What the database says about `sent`, once every message settled."""
    for item in sent:
        chat.replies_to(stack.database, item.sid, timeout=60)
    lost = twice = notices = 0
    latencies: list[float] = []
    models: Counter[str] = Counter()
    with stack.database.session() as session:
        for item in sent:
            message = session.scalars(select(Message).where(Message.provider_sid == item.sid)).one_or_none()
            if message is None or message.processing is not Processing.DONE:
                lost += 1
                continue
            replies = session.scalars(
                select(Message).where(
                    Message.in_reply_to_id == message.id, Message.direction == Direction.OUTBOUND
                )
            ).all()
            bodies = Counter(r.body for r in replies)
            lost += not replies
            twice += any(n > 1 for n in bodies.values())
            notices += texts.OUTAGE_NOTICE in bodies
            if replies:
                latencies.append(max(r.created_at.timestamp() for r in replies) - item.at)
            models[_model_name(session, message.id)] += 1
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else float("nan")
    return Tally(len(sent), lost, twice, notices, p99, models)


def run_load(stack: Stack, during: Callable[[], object], *, before: float = 2.0, after: float = 3.0) -> Tally:
    """Debtors write at `RATE` for `before` seconds, while `during()` runs, and `after` seconds more; the
    tally of every message sent."""
    stop = threading.Event()
    result: list[list[Sent]] = []
    loader = threading.Thread(target=lambda: result.append(_load(stack, stop)))
    loader.start()
    try:
        time.sleep(before)
        during()
        time.sleep(after)
    finally:
        stop.set()
        loader.join()
    return tally(stack, result[0])


def serving(stack: Stack) -> NluServing:
    """The serving state now (detached: read it after the session closed)."""
    with stack.database.session() as session:
        row = state.serving(session)
        session.expunge(row)
        return row


def prediction_model(stack: Stack, message_id: int | None) -> str:
    """The file name of the model that read message `message_id` ("?" when none did)."""
    with stack.database.session() as session:
        return _model_name(session, message_id)


def _model_name(session: Session, message_id: int | None) -> str:
    model = session.scalar(
        select(MessagePrediction.model_file).where(MessagePrediction.message_id == message_id)
    )
    return Path(model or "?").name
