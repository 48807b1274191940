"""`/metrics` for Prometheus (loopback or METRICS_TOKEN only), and the latency every request is timed by.

The counters and histograms come from every process of the stack (bot.observability.instruments, in
multiprocess mode outside tests); the queue depths and the outbox backlog are read when scraped, in the
background and cached (bot.observability.gauges), so a scrape is cheap and never waits on a hung database
or Redis. Like `/health/ready` the page shows internal details: only loopback callers that no proxy
forwarded and holders of METRICS_TOKEN may read it. See docs/observability.md.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request

from bot.config import Settings
from bot.conversation.sweep_schedule import DEFAULT_QUEUE
from bot.nlu_ops.trainer import QUEUE as NLU_QUEUE
from bot.observability import exposition
from bot.observability.gauges import BackgroundReading, ScrapeGauges, read_queues
from bot.observability.instruments import enable_for, instruments
from bot.reminders.claiming import due_backlog
from bot.reminders.scheduler import QUEUE as REMINDERS_QUEUE
from webhooks.extensions import conversations, db, settings
from webhooks.local_access import loopback_or_token

bp = Blueprint("metrics", __name__)

QUEUES = (DEFAULT_QUEUE, REMINDERS_QUEUE, NLU_QUEUE)


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus text exposition (403 to anyone but loopback callers and METRICS_TOKEN holders)."""
    if not loopback_or_token(settings().metrics_token):
        abort(403)
    body, content_type = exposition.render(current_app.extensions["regua_scrape_gauges"])
    return Response(body, content_type=content_type)


def init_app(app: Flask, settings: Settings) -> None:
    """Count in the stack's shared directory (outside tests, where each test process counts in memory),
    time every request by endpoint, and build the scrape-time gauges of this app."""
    enable_for(settings)
    app.before_request(_start_timer)
    app.teardown_request(_observe_latency)  # runs after errors too, unlike after_request

    def read_redis() -> object:
        with app.app_context():
            conn = conversations.inline_redis()  # short timeouts, no retries
        return read_queues(conn, QUEUES)

    database = BackgroundReading(lambda: due_backlog(db.database_of(app)))
    app.extensions["regua_scrape_gauges"] = exposition.scrape_registry(
        ScrapeGauges(database, BackgroundReading(read_redis))
    )


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe_latency(_exc: BaseException | None) -> None:
    started = g.pop("metrics_started", None)
    if started is not None:
        # The endpoint's name, never the path: paths carry tokens and ids (unbounded labels).
        endpoint = request.endpoint or "unmatched"
        instruments().http_latency.labels(endpoint).observe(time.perf_counter() - started)
