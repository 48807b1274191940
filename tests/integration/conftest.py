"""Fixtures for integration tests: the real Rasa server, action server, web app and worker.

`start_process()` (from tests.processes) + `wait_for_http()` are the general
helpers: start a command in its own process group with its output in a log file, poll a URL until a check
passes, and stop it cleanly (SIGTERM, then SIGKILL) afterwards. Failures show the end of the process's log.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests
from faker import Faker
from playwright.sync_api import Browser
from sqlalchemy import update

from bot import health, redis_client
from bot.config import Settings, load_settings
from bot.conversation import chat
from bot.db import Database
from bot.documents import normalize_cnpj, normalize_cpf
from bot.models import Creditor, Debtor, Invoice, NluServing, RasaSlot
from bot.nlu_serving import state
from bot.phones import Address, is_mobile, normalize_phone
from bot.rasa import training
from bot.rasa.client import RasaClient
from tests.integration.browser import chromium
from tests.processes import RunningProcess, free_port, start_process

RASA_START_TIMEOUT = 180.0


def wait_for_http(
    running: RunningProcess,
    url: str,
    *,
    timeout: float,
    ready: Callable[[requests.Response], bool] = lambda response: response.ok,
    interval: float = 1.0,
    params: dict[str, str] | None = None,
) -> None:
    """Poll `url` until `ready(response)` is true; fail the test with the log tail on exit or timeout.
    `params` (such as Rasa's auth token) go in the query string, never in the failure message."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        code = running.process.poll()
        if code is not None:
            tail = running.log_tail()
            pytest.fail(f"{running.name} exited with code {code} before {url} was ready. Log tail:\n{tail}")
        try:
            response = requests.get(url, timeout=5, params=params)
            if ready(response):
                return
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as error:
            last_error = f"{type(error).__name__}"
        time.sleep(interval)
    pytest.fail(
        f"{running.name} was not ready at {url} after {timeout:.0f} s ({last_error}). "
        f"Log ({running.log_file}) tail:\n{running.log_tail()}"
    )


# ---- Rasa ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The trained Rasa model for the current training data (trained first if missing; takes minutes)."""
    try:
        return training.ensure_model()
    except training.RasaNotInstalledError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="package")
def rasa_server(stack: Stack) -> RasaClient:
    """A client (with the auth token) of the real `rasa run --enable-api` serving the trained model (the
    stack's)."""
    return RasaClient(stack.settings.rasa_url, 30.0, token=stack.settings.rasa_auth_token)


# ---- the whole stack: web app, worker, Rasa server and action server -----------------------------------


@dataclass
class Stack:
    """The four Procfile processes running against the test database and Redis, in sandbox mode."""

    settings: Settings
    env: dict[str, str]
    database: Database
    log_dir: Path
    commands: dict[str, list[str]]
    running: dict[str, RunningProcess]
    exits: contextlib.ExitStack

    @property
    def web_url(self) -> str:
        """Where the web app listens."""
        return f"http://127.0.0.1:{self.settings.web_port}"

    def start(self, name: str) -> None:
        """Start process `name` and wait until it is healthy."""
        running = self.exits.enter_context(
            start_process(name, self.commands[name], self.log_dir, env=self.env)
        )
        self.running[name] = running
        _wait_healthy(self, name)

    def stop(self, name: str) -> None:
        """Stop process `name` (SIGTERM, then SIGKILL)."""
        self.running.pop(name).stop()


def _wait_healthy(stack: Stack, name: str) -> None:
    running, s = stack.running[name], stack.settings
    if name == "web":
        wait_for_http(running, f"{stack.web_url}/health/ready", timeout=60)
    elif name == "rasa":
        ready = lambda r: r.ok and bool(r.json().get("model_file"))  # noqa: E731
        wait_for_http(
            running,
            f"{s.rasa_url}/status",
            timeout=RASA_START_TIMEOUT,
            ready=ready,
            params={"token": s.rasa_auth_token},
        )
    elif name == "actions":
        wait_for_http(running, s.action_server_url.removesuffix("/webhook") + "/health", timeout=60)
    elif name == "worker":
        conn = redis.Redis.from_url(redis_client.redis_url(s, start_embedded=False))
        deadline = time.monotonic() + 60
        while not health.check_workers(conn).ok:
            if running.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not register. Log tail:\n{running.log_tail()}")
            time.sleep(0.5)


def _separate_redis_db(url: str, db: int = 14) -> str:
    """The same Redis server, another database: the stack's workers must not take the jobs other tests
    enqueue, and other tests' worker health checks must not see the stack's workers."""
    parts = urlsplit(url)
    if parts.scheme == "unix":  # urlunsplit would drop the "//" of "unix:///path"
        return f"{url.split('?', 1)[0]}?db={db}"
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, launched once per test module (each test opens its own contexts)."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="package")
def stack(
    rasa_model: Path, migrated_database: Database, database_url: str, redis_url: str, tmp_path_factory
) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """The real web app (gunicorn), RQ worker, Rasa server (trained model) and action server, started
    once for the integration tests (and stopped after them), with no Twilio credentials (sandbox: replies
    are stored, not sent)."""
    web_port, rasa_port, action_port = free_port(), free_port(), free_port()
    stack_redis = _separate_redis_db(redis_url)
    redis.Redis.from_url(stack_redis).flushdb()  # no jobs left over from an earlier run
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(
        REGUA_ENV="test",
        REGUA_VAR_DIR=str(tmp_path_factory.mktemp("stack-var")),
        DATABASE_URL=database_url,
        REDIS_URL=stack_redis,
        WEB_PORT=str(web_port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{web_port}",
        RASA_PORT=str(rasa_port),
        ACTION_SERVER_PORT=str(action_port),
        SECRET_KEY="integration-secret-key-0123456789",
        INBOUND_RATE_LIMIT="1000/minute",
        WEB_CONCURRENCY="2",
        RASA_TIMEOUT_SECONDS="10",
        PAYMENT_WEBHOOK_SECRET=PAYMENT_SECRET,
        # The conversations here are about what a known debtor is told, not the CPF question (the
        # default, IDENTITY_CHECK=cpf, is tested in tests/unit/test_identity.py): the number is trusted.
        IDENTITY_CHECK="phone",
    )
    for name in ("RASA_URL", "ACTION_SERVER_URL"):
        env.pop(name, None)
    regua = [sys.executable, "-m", "bot.cli"]
    commands = {name: [*regua, cmd] for name, cmd in PROCFILE.items()}
    with contextlib.ExitStack() as exits:
        result = Stack(
            settings=load_settings(env),
            env=env,
            database=migrated_database,
            log_dir=tmp_path_factory.mktemp("stack-logs"),
            commands=commands,
            running={},
            exits=exits,
        )
        for name in commands:  # start them all, then wait: Rasa's ~30 s overlap with the others
            result.running[name] = exits.enter_context(
                start_process(name, commands[name], result.log_dir, env=env)
            )
        for name in commands:
            _wait_healthy(result, name)
        yield result


@contextlib.contextmanager
def green_slot(stack: Stack, rasa_model: Path, green_model: Path | None = None) -> Iterator[None]:
    """The second Rasa slot, started like the Procfile's `rasa-green` (the stack starts only blue), with
    `green_model` (default: the trained model); afterwards blue answers again, whatever happened."""
    # Blue has served the stack's model since the stack started, but a test of another module that empties
    # every table (the `db` fixture) may have wiped that record since: say again what blue runs.
    state.record_slot_model(stack.database, RasaSlot.BLUE, str(rasa_model.resolve()))
    if green_model is not None:  # `regua rasa-server --slot green` starts with what the state says
        state.record_slot_model(stack.database, RasaSlot.GREEN, str(green_model.resolve()))
    stack.commands["rasa-green"] = [*stack.commands["rasa"], "--slot", "green"]
    stack.start("rasa-green")
    settings = stack.settings
    wait_for_http(
        stack.running["rasa-green"],
        f"{settings.rasa_green_url}/status",
        timeout=RASA_START_TIMEOUT,
        ready=lambda r: r.ok and bool(r.json().get("model_file")),
        params={"token": settings.rasa_auth_token},
    )
    try:
        yield
    finally:
        stack.stop("rasa-green")
        with stack.database.session() as session:
            session.execute(
                update(NluServing).values(active_slot=RasaSlot.BLUE, swap_token=None, green_model=None)
            )


PAYMENT_SECRET = "integration-payment-secret-0123"
PROCFILE = {"rasa": "rasa-server", "actions": "actions", "web": "web", "worker": "worker"}


# ---- data and messages for tests that share the stack --------------------------------------------------

_fake = Faker("pt_BR")
PIX = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865406259.905802BR"
    "5915Loja Integracao6009Sao Paulo62080504INT163040729"
)
LINE = "23790001169211000121809044756170416360000025990"


def new_mobile() -> str:
    while True:
        number = normalize_phone(
            f"+55{random.choice([11, 21, 31, 41, 51, 61, 71, 81, 92])}9{random.randint(60000000, 99999999)}"
        )
        if is_mobile(number):
            return number


def new_debtor(db: Database, *, with_invoice: bool = True, pix_key: str | None = None) -> tuple[int, str]:
    """A fresh creditor (with `pix_key`, if given) and debtor with an open overdue invoice; returns
    (debtor id, phone). Each test gets its own, so tests sharing the stack never see each other's data."""
    phone = new_mobile()
    with db.session() as s:
        creditor = Creditor(
            legal_name="Loja Integração Ltda",
            cnpj=normalize_cnpj(_fake.cnpj()),
            contact_channel="SAC 0800 123 4567",
            pix_key=pix_key,
            city="São Paulo",
        )
        debtor = Debtor(name=_fake.name(), cpf=normalize_cpf(_fake.unique.cpf()), phone=phone)
        s.add_all([creditor, debtor])
        if with_invoice:
            s.add(
                Invoice(
                    creditor=creditor,
                    debtor=debtor,
                    external_ref=f"INT-{random.randint(0, 10**9)}",
                    amount_cents=25990,
                    due_date=date.today() - timedelta(days=3),
                    pix_code=PIX,
                    boleto_line=LINE,
                    payment_url="https://pagar.example.com.br/int",
                )
            )
        s.flush()
        return debtor.id, phone


def say(
    stack: Stack,
    phone: str,
    body: str,
    *,
    channel: str = "whatsapp",
    sid: str | None = None,
    timeout: float = 30.0,
) -> chat.Exchange:
    """Send a signed message as `phone` and wait for the bot's replies to it."""
    form = chat.inbound_form(stack.settings, Address(channel, phone), body, sid=sid)  # type: ignore[arg-type]
    response = chat.post(stack.settings, stack.web_url, chat.MESSAGES_PATH, form)
    assert response.status_code == 200, response.text
    return chat.replies_to(stack.database, form["MessageSid"], timeout=timeout)
