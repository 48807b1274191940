"""Health checks for each Régua process and dependency, shared by `/health`, `regua health` and `make run`."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import redis
import requests
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import migrations
from bot.config import Settings, is_loopback
from bot.db import Database
from bot.models import RasaSlot
from bot.nlu_serving import routing

# A worker that has not sent a heartbeat for this long is considered gone (RQ beats every few seconds).
WORKER_HEARTBEAT_GRACE = timedelta(seconds=90)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; `detail` is safe to show (no secrets, no personal data)."""

    ok: bool
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "detail": self.detail, **self.extra}


def check_database(database: Database) -> CheckResult:
    """The database answers and its schema is at the newest migration."""
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        return CheckResult(False, f"database unreachable: {type(exc).__name__}")
    head = migrations.head_revision()
    if revision != head:
        return CheckResult(False, f"schema at {revision}, expected {head}: run `regua db upgrade`")
    return CheckResult(True, f"{database.engine.dialect.name} at {revision}")


def check_redis(client: Callable[[], redis.Redis] | redis.Redis) -> CheckResult:
    """Redis answers PING."""
    try:
        conn = client() if callable(client) and not isinstance(client, redis.Redis) else client
        conn.ping()
    except (redis.RedisError, OSError) as exc:
        return CheckResult(False, f"redis unreachable: {type(exc).__name__}")
    return CheckResult(True, "redis answers")


def check_workers(conn: redis.Redis, queue: str | None = None) -> CheckResult:
    """At least one RQ worker (listening on `queue`, when given) is registered with a recent heartbeat."""
    from rq import Worker

    try:
        workers = Worker.all(connection=conn)
    except redis.RedisError as exc:
        return CheckResult(False, f"redis unreachable: {type(exc).__name__}")
    now = datetime.now(UTC)
    alive = [
        w
        for w in workers
        if w.last_heartbeat
        and now - w.last_heartbeat.replace(tzinfo=UTC) < WORKER_HEARTBEAT_GRACE
        and (queue is None or queue in w.queue_names())
    ]
    where = f" on {queue}" if queue else ""
    return CheckResult(bool(alive), f"{len(alive)} worker(s) alive{where}", {"workers": len(alive)})


def check_scheduler(conn: redis.Redis) -> CheckResult:
    """The régua's scheduler ticked recently (its heartbeat key lives for a few ticks)."""
    from bot.reminders.scheduler import HEARTBEAT_KEY

    try:
        beat = conn.get(HEARTBEAT_KEY)
    except redis.RedisError as exc:
        return CheckResult(False, f"redis unreachable: {type(exc).__name__}")
    if beat is None:
        return CheckResult(False, "no recent scheduler heartbeat")
    return CheckResult(True, f"last tick {beat.decode()}")


def check_http(
    url: str,
    *,
    timeout: float = 2.0,
    json_check: Callable[[Any], bool] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> CheckResult:
    """GET `url` (with `headers`) answers 200 (and, when given, its JSON passes `json_check`). `params`
    (such as a token) go in the query string and never into the detail."""
    try:
        response = requests.get(url, timeout=timeout, params=params, headers=headers)
    except requests.RequestException as exc:
        return CheckResult(False, f"no answer from {url}: {type(exc).__name__}")
    if response.status_code != 200:
        return CheckResult(False, f"{url} answered {response.status_code}")
    if json_check is not None:
        try:
            if not json_check(response.json()):
                return CheckResult(False, f"{url} answered but is not ready")
        except ValueError:
            return CheckResult(False, f"{url} did not answer JSON")
    return CheckResult(True, f"{url} answers")


def check_rasa(rasa_url: str, *, token: str = "", timeout: float = 1.0) -> CheckResult:
    """The Rasa server answers `/status` (with its auth token) and has a model loaded."""
    return check_http(
        f"{rasa_url}/status",
        timeout=timeout,
        json_check=lambda j: bool(j.get("model_file")),
        params={"token": token} if token else None,
    )


def check_active_rasa(settings: Settings, database: Database, *, timeout: float = 1.0) -> CheckResult:
    """The Rasa slot answering debtors (the serving state's active slot, bot.nlu_serving) answers
    `/status` with a model loaded. When the database does not say which slot it is, blue is checked and
    the detail says the slot is a guess (the engine's route keeps its last known slot then)."""
    slot = routing.active_slot(database)
    result = check_rasa(
        routing.slot_url(settings, slot or RasaSlot.BLUE), token=settings.rasa_auth_token, timeout=timeout
    )
    which = f"active slot {slot.value}" if slot else "active slot unknown (database), checked blue"
    return CheckResult(result.ok, f"{which}: {result.detail}", {"slot": slot.value if slot else None})


def check_action_server(action_server_url: str, *, token: str = "", timeout: float = 2.0) -> CheckResult:
    """The action server answers: with `token`, its `/actions` list accepts that token (so Rasa, which
    sends the same one, can call it); without, its open `/health` endpoint."""
    base = action_server_url.rsplit("/webhook", 1)[0]
    if token:
        listed = lambda j: isinstance(j, list) and bool(j)  # noqa: E731
        return check_http(f"{base}/actions", timeout=timeout, json_check=listed, params={"token": token})
    return check_http(f"{base}/health", timeout=timeout, json_check=lambda j: j.get("status") == "ok")


def check_web(settings: Settings, *, timeout: float = 3.0) -> CheckResult:
    """The web app answers its readiness check `/health/ready` with status ok (as a loopback caller, and
    with `HEALTH_TOKEN` when set, for a web app bound to another address)."""
    url = f"http://{_local(settings.web_host)}:{settings.web_port}/health/ready"
    headers = {"Authorization": f"Bearer {settings.health_token}"} if settings.health_token else None
    return check_http(url, timeout=timeout, json_check=lambda j: j.get("status") == "ok", headers=headers)


def process_checks(
    settings: Settings, redis_conn: redis.Redis, database: Database | None = None
) -> dict[str, CheckResult]:
    """The health of each process of the Procfile: web, rasa (blue), rasa-green, actions, worker,
    scheduler, dispatcher, trainer. Both Rasa slots must be up (the spare one is the instant rollback);
    with `database`, the detail of the slot answering debtors says so."""
    active = routing.active_slot(database) if database is not None else None
    return {
        "web": check_web(settings),
        "rasa": _slot_check(settings, RasaSlot.BLUE, active),
        "rasa-green": _slot_check(settings, RasaSlot.GREEN, active),
        "actions": check_action_server(settings.action_server_url, token=settings.action_server_token),
        "worker": check_workers(redis_conn, "default"),
        "scheduler": check_scheduler(redis_conn),
        "dispatcher": check_workers(redis_conn, "reminders"),
        "trainer": check_workers(redis_conn, "nlu"),  # candidate NLU models (bot.nlu_ops.trainer)
    }


def _slot_check(settings: Settings, slot: RasaSlot, active: RasaSlot | None) -> CheckResult:
    result = check_rasa(routing.slot_url(settings, slot), token=settings.rasa_auth_token, timeout=2.0)
    if active is None:
        return result
    role = "answers debtors" if slot is active else "spare slot"
    return CheckResult(result.ok, f"{result.detail} ({role})", {"active": slot is active})


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def check_worker_roundtrip(conn: redis.Redis, *, timeout: float = 20.0) -> CheckResult:
    """Enqueue the `ping` job and wait until a worker has run it."""
    import time

    from rq import Queue

    # By queue name and dotted path, as every RQ job (bot.runtime): importing bot.conversation.jobs
    # would close a cycle (the engine imports this module).
    job = Queue("default", connection=conn).enqueue(
        "bot.conversation.jobs.ping", result_ttl=60, ttl=int(timeout)
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) == "finished":
            return CheckResult(True, "a worker ran the ping job")
        time.sleep(0.2)
    job.cancel()
    return CheckResult(False, f"no worker ran the ping job within {timeout:.0f} s")


# ---- internal services (issue 14 §1): nobody but Régua may call Rasa or the action server -------------


def check_refuses_without_token(method: str, url: str, *, timeout: float = 2.0) -> CheckResult:
    """`method url` without a token is refused (401 or 403). Anything else — an answer, a 404, an error
    page — means the guard is missing or broken, and is a failure."""
    try:
        response = requests.request(method, url, timeout=timeout, json={} if method == "POST" else None)
    except requests.RequestException as exc:
        return CheckResult(False, f"no answer from {url}: {type(exc).__name__}")
    if response.status_code in (401, 403):
        return CheckResult(True, f"{method} {url} refuses calls without the token")
    return CheckResult(False, f"{method} {url} answered {response.status_code} without the token")


_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def local_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (each interface's, best effort)."""
    found: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            with contextlib.suppress(OSError):  # an interface without an IPv4 address
                request = struct.pack("256s", name[:15].encode())
                packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
                found.add(socket.inet_ntoa(packed[20:24]))
    return sorted(a for a in found if not a.startswith("127."))


def _accepts(address: str, port: int, timeout: float) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((address, port)) == 0


def check_bind(name: str, host: str, url: str, *, timeout: float = 0.5) -> CheckResult:
    """A service meant for loopback (`host`) that runs here (`url` names a loopback host) must not accept
    connections on this machine's other addresses — e.g. one started by hand with rasa_sdk's default
    0.0.0.0. A non-loopback `host` is the private-network opt-in (config then requires an explicit token)."""
    parts = urlsplit(url)
    if not is_loopback(host):
        return CheckResult(True, f"{name} bound to {host} by configuration (private network, token required)")
    if not parts.hostname or not is_loopback(parts.hostname):
        return CheckResult(True, f"{name} runs on {parts.hostname}: only its token check applies")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    exposed = [a for a in local_addresses() if _accepts(a, port, timeout)]
    if exposed:
        return CheckResult(False, f"{name} port {port} is reachable off loopback on {', '.join(exposed)}")
    return CheckResult(True, f"{name} port {port} is reachable on loopback only")


def internal_service_checks(settings: Settings) -> dict[str, CheckResult]:
    """`regua health --deep`: Rasa's API, Rasa's REST channel and the action server refuse calls without
    their tokens, and neither service is reachable off loopback unless configured for a private network."""
    action_base = settings.action_server_url.rsplit("/webhook", 1)[0]
    return {
        "rasa auth": _all_ok(
            check_refuses_without_token("GET", f"{settings.rasa_url}/status"),
            check_refuses_without_token("GET", f"{settings.rasa_url}/webhooks/rest/"),
        ),
        "actions auth": check_refuses_without_token("POST", settings.action_server_url),
        "rasa bind": check_bind("rasa", settings.rasa_host, settings.rasa_url),
        "actions bind": check_bind("actions", settings.action_server_host, action_base),
    }


def _all_ok(*results: CheckResult) -> CheckResult:
    failed = [r for r in results if not r.ok]
    return failed[0] if failed else CheckResult(True, "; ".join(r.detail for r in results))
