"""A Redis that accepts connections and never answers must not stop inline answers: short timeouts on
the inline path and a circuit breaker (bot.breaker) that skips Redis for a cool-down."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from bot.breaker import CircuitBreaker
from bot.config import Settings, override
from bot.db import Database
from tests.conftest import People
from tests.faults import hung_server
from tests.unit.conftest import FakeRasa, FakeSender, post_message
from webhooks import create_app
from webhooks.extensions import conversations

# A behavioural bound, not a benchmark: without the breaker each Redis call waits out its timeouts and
# redis-py's retries (several seconds per request).
ANSWER_WITHIN_SECONDS = 3.0


def _app_on(settings: Settings, fake_rasa: FakeRasa, sender: FakeSender) -> Flask:
    """The app with its own services (its Redis clients, limiter and queue), Rasa and Twilio stood in."""
    app = create_app(settings)
    with app.app_context():
        services = conversations.services()
    services.rasa, services.sender = fake_rasa, sender  # type: ignore[assignment]
    return app


def test_a_hung_redis_does_not_stop_inline_answers(
    settings: Settings, db: Database, people: People, fake_rasa: FakeRasa, sender: FakeSender
) -> None:
    with hung_server() as port:
        hung = override(settings, redis_url=f"redis://127.0.0.1:{port}/0")
        app = _app_on(hung, fake_rasa, sender)
        bodies = ["oi", "kd o boleto?", "quero pagar", "obrigada", "tchau"]
        for body in bodies:
            started = time.monotonic()
            response, _ = post_message(app, hung, body)
            assert response.status_code == 200
            assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
        assert [r.body for r in sender.sent] == [f"eco: {body}" for body in bodies]
        # Rasa down too: the outage notice still goes out at once; the retry is left to the sweep.
        fake_rasa.down = True
        started = time.monotonic()
        assert post_message(app, hung, "manda o pix")[0].status_code == 200
        assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
        assert len(sender.sent) == len(bodies) + 1


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_repeated_failures_and_lets_one_probe_through_after_the_cool_down() -> None:
    clock = _Clock()
    breaker = CircuitBreaker("Redis", failures=3, cooldown=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert not breaker.is_open
    breaker.failed()
    assert breaker.is_open and not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # one probe...
    assert not breaker.allow()  # ...at a time
    breaker.failed()  # the probe failed: a whole cool-down again
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    breaker.succeeded()
    assert not breaker.is_open and breaker.allow() and breaker.allow()


@pytest.mark.parametrize("failures", [1, 4])
def test_a_success_resets_the_count_of_failures(failures: int) -> None:
    breaker = CircuitBreaker("Redis", failures=failures + 1, cooldown=10, clock=_Clock())
    for _ in range(failures):
        breaker.failed()
    breaker.succeeded()
    for _ in range(failures):
        breaker.failed()
    assert not breaker.is_open
