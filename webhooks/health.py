"""Health endpoints: `/health` (liveness, public, no I/O) and `/health/ready` (readiness, deep, cached,
loopback or token only).

`/health` says only that this web process answers: load balancers and uptime monitors may hit it as often
as they like. `/health/ready` asks the database, Redis, the workers and Rasa (the slot answering
debtors); its result is cached for `READY_CACHE_SECONDS` with single flight (bot.cached_probe), so a burst
of callers or a hung Rasa never takes the web threads the Twilio webhooks need. It shows internal details
(revisions, URLs), so only loopback callers (`regua health`, `make run`, the tests) and holders of
`HEALTH_TOKEN` may read it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify

from bot import health
from bot.cached_probe import CachedProbe
from webhooks.extensions import conversations, db, redis_ext, settings
from webhooks.local_access import loopback_or_token

bp = Blueprint("health", __name__)

# How long one readiness result is served; a monitor polling every few seconds sees changes that soon.
READY_CACHE_SECONDS = 5.0
# The Rasa probe's timeout: short, because a hung Rasa must not hold the (single) probing thread long.
READY_RASA_TIMEOUT_SECONDS = 1.0


@bp.get("/health")
def live():  # type: ignore[no-untyped-def]
    """Liveness: 200 `{"status": "ok"}` whenever this process can answer. Touches nothing else."""
    return jsonify(status="ok")


@bp.get("/health/ready")
def ready():  # type: ignore[no-untyped-def]
    """Readiness: 200 when the database (at the newest migration) and Redis answer, 503 otherwise; Rasa and
    the workers are reported, not required (messages are still stored while they are down)."""
    if not loopback_or_token(settings().health_token):
        abort(403)
    body = _readiness().get()
    return jsonify(body), 200 if body["status"] == "ok" else 503


@bp.record_once
def _create_probe(state) -> None:  # type: ignore[no-untyped-def]
    # Created with the app, not on first use: two first callers must not build (and run) two probes.
    state.app.extensions["regua_readiness"] = CachedProbe(_probe, READY_CACHE_SECONDS)


def _readiness() -> CachedProbe[dict[str, Any]]:
    """The app's cached readiness probe (one per process). It runs inside whichever request gets to
    refresh it, so it has the app's extensions."""
    return current_app.extensions["regua_readiness"]


def _probe() -> dict[str, Any]:
    checks = {
        "database": health.check_database(db.database()),
        "redis": health.check_redis(redis_ext.client),
    }
    ok = all(c.ok for c in checks.values())
    if checks["redis"].ok:
        checks["workers"] = health.check_workers(redis_ext.client(), "default")
    # The slot answering debtors (bot.nlu_serving), not blue by default: after a promote to green,
    # blue is the spare slot and may well be loading the next model.
    checks["rasa"] = health.check_active_rasa(settings(), db.database(), timeout=READY_RASA_TIMEOUT_SECONDS)
    # Reported, not required: messages spooled while the database was down wait for their replay.
    waiting = conversations.spool().pending()
    checks["spool"] = health.CheckResult(
        not waiting, "messages received while the database was down wait for replay" if waiting else "empty"
    )
    return {"status": "ok" if ok else "unavailable", "checks": {k: c.as_dict() for k, c in checks.items()}}
