"""`/health`: whether the web process can reach what it needs (database, Redis) and what else is up."""

from __future__ import annotations

from flask import Blueprint, jsonify

from bot import health
from webhooks.extensions import db, redis_ext, settings

bp = Blueprint("health", __name__)


@bp.get("/health")
def check():  # type: ignore[no-untyped-def]
    """200 when the database and Redis answer; 503 otherwise. Rasa and workers are reported, not required:
    the web app keeps accepting and storing messages while they are down."""
    checks = {
        "database": health.check_database(db.database()),
        "redis": health.check_redis(redis_ext.client),
    }
    ok = all(c.ok for c in checks.values())
    if checks["redis"].ok:
        checks["workers"] = health.check_workers(redis_ext.client(), "default")
    checks["rasa"] = health.check_rasa(settings().rasa_url, token=settings().rasa_auth_token)
    body = {"status": "ok" if ok else "unavailable", "checks": {k: c.as_dict() for k, c in checks.items()}}
    return jsonify(body), 200 if ok else 503
