"""The stack under test: the Twilio stand-in and its recording proxy, Régua's processes started from a source
tree (web app, workers, action server, Rasa) and, when asked for, a second Rasa with its twilio channel."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
import requests

from bench.inbound.constants import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    RASA_START_TIMEOUT,
    RECORDER,
    SECRET_KEY,
    WHATSAPP_FROM,
    twilio_environment,
)
from bench.inbound.processes import (
    PRISM_FLAGS,
    TWILIO_OAI,
    RunningProcess,
    Tree,
    cpu_seconds,
    free_port,
    http_ok,
    prism_bin,
    start_process,
    wait_until,
)
from bot.config import Settings, load_settings
from bot.db import Database
from bot.rasa import server, training


@dataclass
class Stack:
    """Everything the bench started, and how to reach it."""

    settings: Settings
    database: Database
    redis: redis.Redis
    records: Path
    rasa_twilio_url: str | None
    procs: dict[str, list[RunningProcess]]

    @property
    def web_url(self) -> str:
        """Régua's web app."""
        return f"http://127.0.0.1:{self.settings.web_port}"

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far per component (process trees)."""
        usage = {name: sum(cpu_seconds(p) for p in procs) for name, procs in self.procs.items()}
        times = psutil.Process().cpu_times()
        usage["bench"] = times.user + times.system  # the load generator and the settle polling
        usage["redis"] = 0.0  # the Redis server the bench uses (RQ, rate limits, Rasa's stores)
        port = f":{self.redis.connection_pool.connection_kwargs.get('port', 6379)}"
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.info.get("name") == "redis-server" and port in " ".join(proc.info.get("cmdline") or []):
                with contextlib.suppress(psutil.Error):
                    cpu = proc.cpu_times()
                    usage["redis"] += cpu.user + cpu.system
        return usage

    def check_alive(self) -> None:
        """Fail if any started process has exited."""
        for procs in self.procs.values():
            for proc in procs:
                if proc.process.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited ({proc.process.returncode}):\n{proc.log_tail()}")


SITECUSTOMIZE = '''"""Written by bench.inbound: Rasa's Twilio REST calls go to the local stand-in."""
import os
import sys

_BASE = os.environ.get("BENCH_TWILIO_API_BASE_URL", "").rstrip("/")
_HOST = "https://api.twilio.com"
if _BASE:
    from twilio.http.http_client import TwilioHttpClient

    _original = TwilioHttpClient.request

    def _request(self, method, url, *args, **kwargs):
        if not url.startswith(_BASE):
            if not url.startswith(_HOST):
                raise RuntimeError("bench: refusing a Twilio request outside " + _HOST)
            url = _BASE + url[len(_HOST):]
        return _original(self, method, url, *args, **kwargs)

    TwilioHttpClient.request = _request
    print("bench sitecustomize: Twilio REST calls go to " + _BASE, file=sys.stderr, flush=True)
'''


@contextlib.contextmanager
def running_stack(
    args: argparse.Namespace, database_url: str, redis_url: str, run_dir: Path, tree: Tree
) -> Iterator[Stack]:
    """Start the stand-in, the recording proxy, `tree`'s Régua processes (run in that checkout with its own
    interpreter, so its own code answers: `--web-concurrency` gunicorn processes answering inline,
    `--workers` RQ workers for the fallback, the action server and Rasa) and, when asked for, a second Rasa
    with the twilio channel; wait until all are healthy."""
    log_dir = run_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    names = ("web", "rasa", "rasa_green", "actions", "rasa_twilio", "prism", "recorder")
    ports = {name: free_port() for name in names}
    records = run_dir / "twilio_records.jsonl"
    recorder_url = f"http://127.0.0.1:{ports['recorder']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    # PYTHONPATH too: `bot` must come from the tree's root (the working directory), not the bench's.
    for name in ("RASA_URL", "ACTION_SERVER_URL", "REGUA_MODELS_DIR", "PYTHONPATH"):
        env.pop(name, None)
    env.update(
        # The measured turn reads the debtor's invoices; with the default (cpf) it would only ask the CPF.
        IDENTITY_CHECK="phone",
        REGUA_ENV="test",
        LOG_LEVEL="INFO",
        REGUA_VAR_DIR=str(run_dir / "var"),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        WEB_PORT=str(ports["web"]),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{ports['web']}",
        RASA_PORT=str(ports["rasa"]),
        RASA_GREEN_PORT=str(ports["rasa_green"]),
        ACTION_SERVER_PORT=str(ports["actions"]),
        SECRET_KEY=SECRET_KEY,
        INBOUND_RATE_LIMIT="100000/minute",
        WEB_CONCURRENCY=str(args.web_concurrency),
        RASA_TIMEOUT_SECONDS="10",
        TWILIO_API_BASE_URL=recorder_url,
        **twilio_environment(),
    )
    env.update(tree.env())
    # The bench's own settings: ports, URLs and tokens, derived from the same variables as the tree's.
    settings = load_settings(env)
    regua = [str(tree.python), "-m", "bot.cli"]
    procs: dict[str, list[RunningProcess]] = defaultdict(list)
    with contextlib.ExitStack() as exits:

        def start(group: str, name: str, command: Sequence[str], proc_env: dict[str, str]) -> RunningProcess:
            proc = exits.enter_context(start_process(name, command, log_dir, proc_env, cwd=tree.root))
            procs[group].append(proc)
            return proc

        upstream = "builtin"
        if args.stand_in == "prism":
            prism = start(
                "prism",
                "prism",
                [
                    str(prism_bin()),
                    "mock",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(ports["prism"]),
                    *PRISM_FLAGS,
                    str(TWILIO_OAI),
                ],
                dict(os.environ),
            )
            upstream = f"http://127.0.0.1:{ports['prism']}"
        recorder = start(
            "recorder",
            "recorder",
            [
                sys.executable,
                str(RECORDER),
                "--port",
                str(ports["recorder"]),
                "--upstream",
                upstream,
                "--out",
                str(records),
                "--delay-ms",
                str(args.twilio_latency_ms),
            ],
            dict(os.environ),
        )
        # Rasa first: it takes longest (the others start while it loads the model).
        rasa = start("rasa", "rasa", [*regua, "rasa-server"], env)
        # The second Rasa slot (bench/nlu_swap.py promotes a model into it), when asked for.
        green_slot = getattr(args, "green_slot", False)
        green = (
            start("rasa", "rasa-green", [*regua, "rasa-server", "--slot", "green"], env)
            if green_slot
            else None
        )
        rasa_twilio_url = None
        if "rasa_twilio" in args.systems:
            rasa_twilio = start_rasa_twilio(start, settings, env, run_dir, ports["rasa_twilio"], recorder_url)
            rasa_twilio_url = f"http://127.0.0.1:{ports['rasa_twilio']}"
        actions = start("actions", "actions", [*regua, "actions"], env)
        web = start("web", "web", [*regua, "web"], env)
        workers = [start("worker", f"worker-{n}", [*regua, "worker"], env) for n in range(args.workers)]

        if args.stand_in == "prism":
            prism_url = f"http://127.0.0.1:{ports['prism']}/"
            wait_until(prism, http_ok(prism_url, lambda r: r.status_code in (200, 404)), "Prism answers", 120)
        wait_until(recorder, http_ok(recorder_url + "/", lambda r: r.status_code == 404), "proxy answers", 30)
        wait_until(
            actions, http_ok(settings.action_server_url.removesuffix("/webhook") + "/health"), "health", 60
        )
        wait_until(web, web_ready(f"http://127.0.0.1:{ports['web']}"), "/health/ready", 60)
        conn = redis.Redis.from_url(redis_url)
        from rq import Worker

        wait_until(
            workers[0], lambda: len(Worker.all(connection=conn)) >= args.workers, "workers registered", 60
        )
        model_loaded = lambda r: r.ok and bool(r.json().get("model_file"))  # noqa: E731
        wait_until(
            rasa,
            http_ok(f"{settings.rasa_url}/status", model_loaded, {"token": settings.rasa_auth_token}),
            "model loaded",
            RASA_START_TIMEOUT,
        )
        if green is not None:
            wait_until(
                green,
                http_ok(
                    f"{settings.rasa_green_url}/status", model_loaded, {"token": settings.rasa_auth_token}
                ),
                "model loaded",
                RASA_START_TIMEOUT,
            )
        if rasa_twilio_url:
            wait_until(
                rasa_twilio,
                http_ok(f"{rasa_twilio_url}/status", model_loaded),
                "model loaded",
                RASA_START_TIMEOUT,
            )
        yield Stack(
            settings=settings,
            database=Database(settings.effective_database_url),
            redis=conn,
            records=records,
            rasa_twilio_url=rasa_twilio_url,
            procs=dict(procs),
        )


def web_ready(web_url: str) -> Callable[[], bool]:
    """The web app's readiness check: `/health/ready`, or `/health` in a tree older than it (a baseline)."""

    def ready() -> bool:
        response = requests.get(f"{web_url}/health/ready", timeout=5)
        if response.status_code == 404:
            response = requests.get(f"{web_url}/health", timeout=5)
        return response.ok

    return ready


def start_rasa_twilio(
    start, settings: Settings, env: dict[str, str], run_dir: Path, port: int, recorder_url: str
):  # type: ignore[no-untyped-def]
    """Start `rasa run` with the twilio input channel on the same model, endpoints and action server; its
    output channel's REST calls go to the recording proxy (sitecustomize.py on its PYTHONPATH)."""
    site_dir = run_dir / "rasa_twilio_site"
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    credentials = run_dir / "rasa_twilio_credentials.yml"
    credentials.write_text(
        json.dumps(
            {"twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "twilio_number": WHATSAPP_FROM}}
        )
    )
    endpoints = run_dir / "rasa_twilio_endpoints.yml"  # JSON is YAML
    endpoints.write_text(json.dumps(server.endpoints_config(settings), indent=2))
    model = settings.models_dir / training.model_path().name
    twilio_env = server.rasa_environment()
    twilio_env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(site_dir), env.get("PYTHONPATH")])),
        BENCH_TWILIO_API_BASE_URL=recorder_url,
    )
    command = [
        str(settings.rasa_bin), "run", "--enable-api", "--model", str(model), "--endpoints", str(endpoints),
        "--credentials", str(credentials), "--interface", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    return start("rasa_twilio", "rasa_twilio", command, twilio_env)
