"""The load: what debtors write, who writes it, and the open-loop generator that sends it on schedule."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from bench.inbound.constants import TURNS_PER_DEBTOR

# ---- what debtors write ---------------------------------------------------------------------------

GREETINGS = ["oi", "Olá, boa tarde", "bom dia", "oi, tudo bem?", "boa noite", "ola"]
SEGUNDA_VIA = [
    "quero a segunda via do boleto",
    "me manda o boleto atualizado por favor",
    "preciso da 2a via da fatura",
    "perdi o boleto, pode mandar outro?",
    "me passa a linha digitável",
]
QUANTO_DEVO = ["quanto eu devo?", "qual o valor da minha dívida?", "qto eu to devendo", "qual o valor total?"]
PAYMENT = ["como faço pra pagar?", "posso pagar com pix?", "quais as formas de pagamento?", "onde eu pago?"]
THANKS = ["obrigado", "valeu, obrigada!", "muito obrigado pela ajuda"]


def conversation_script(rate: float, debtor_index: int) -> list[str]:
    """The three messages debtor number `debtor_index` of a run at `rate` sends (the same for every system).

    A greeting; then "quanto devo" (55%) or a payment question; then "segunda via" (60%), the payment
    question or "quanto devo" (25%), or thanks. "Segunda via" comes last: for a debtor with three open
    invoices it is 9 WhatsApp messages (per invoice: the text, the Pix code with its QR image, the boleto
    line with its barcode image). Régua's reply-loop guard (bot/conversation/abuse.py) now counts answered
    messages,
    not replies, so it could come earlier; it stays last so that runs remain comparable with earlier
    results.
    """
    rng = random.Random(f"{rate}:{debtor_index}")
    first = rng.choice(GREETINGS)
    asks_debt = rng.random() < 0.55
    second = rng.choice(QUANTO_DEVO if asks_debt else PAYMENT)
    draw = rng.random()
    if draw < 0.60:
        third = rng.choice(SEGUNDA_VIA)
    elif draw < 0.85:
        third = rng.choice(PAYMENT if asks_debt else QUANTO_DEVO)
    else:
        third = rng.choice(THANKS)
    return [first, second, third]


@dataclass(frozen=True)
class Person:
    """A debtor the bench writes as: their WhatsApp address (Twilio's `From`) and, for rasa_rest, the id of
    a Régua conversation made for them beforehand (Rasa's sender id, as in a Régua turn)."""

    debtor_id: int
    twilio: str
    conversation_id: int | None = None


@dataclass
class Shot:
    """One request of a run: when it was due, sent and answered, and what came back."""

    index: int
    person: Person
    text: str
    key: str = ""  # the MessageSid (regua, rasa_twilio)
    lag: float = 0.0  # how late the send started against the schedule (s)
    t_send: float = 0.0  # wall clock, just before the request
    t_resp: float = 0.0  # wall clock, response received
    status: int | None = None
    error: str | None = None
    payload: Any = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


class LoadGenerator:
    """Fires requests on an open-loop schedule from a large thread pool (one HTTP session per thread)."""

    def __init__(self, threads: int = 512) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="shot")
        self.local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        return session

    def _fire(
        self, shot: Shot, due: float, call: Callable[[requests.Session, Shot], tuple[int, Any]]
    ) -> Shot:
        shot.lag = time.monotonic() - due
        shot.t_send = time.time()
        try:
            shot.status, shot.payload = call(self._session(), shot)
        except Exception as error:  # any failure on the request side is an error
            shot.error = type(error).__name__
        shot.t_resp = time.time()
        return shot

    def run(
        self, shots: list[Shot], rate: float, call: Callable[[requests.Session, Shot], tuple[int, Any]]
    ) -> list[Shot]:
        """Send shot *i* at start + i / rate regardless of answers; return when all are answered."""
        start = time.monotonic() + 0.2
        futures = []
        for shot in shots:
            due = start + shot.index / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(self.pool.submit(self._fire, shot, due, call))
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the thread pool."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def plan(rate: float, duration: float, people: list[Person]) -> list[Shot]:
    """The run's messages in send order: message i goes to debtor i % P, as that debtor's turn i // P."""
    total = max(1, round(rate * duration))
    debtors = math.ceil(total / TURNS_PER_DEBTOR)
    if len(people) < debtors:
        raise RuntimeError(f"{debtors} debtors needed, {len(people)} left")
    scripts = [conversation_script(rate, k) for k in range(debtors)]
    return [Shot(i, people[i % debtors], scripts[i % debtors][i // debtors]) for i in range(total)]
