"""Real faults for the fault tests: a private PostgreSQL server that can be stopped and started again,
and a TCP server that accepts connections and never answers (a hung Redis).

Each test starts its own server on a free port and stops it itself: the machine's PostgreSQL and Redis
are never touched. initdb refuses to run as root, so as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port

PG_BIN = Path(os.environ.get("REGUA_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def postgres_available() -> str | None:
    """None if a private PostgreSQL can be started here, else the reason it cannot."""
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL server binaries in {PG_BIN} (set REGUA_TEST_PG_BIN)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to start PostgreSQL as the postgres user"
    return None


@dataclass
class PrivatePostgres:
    """A PostgreSQL server in a temporary directory, on its own port."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        """Its `postgres` database, as the superuser (trust authentication, local only)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-o", options, "-l",
                  str(self.directory / "server.log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once (`-m immediate`: like a crash, no clean shutdown)."""
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh, running private PostgreSQL; stopped and deleted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="regua-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(directory, free_port())
    try:
        server._run("initdb", "-D", str(directory / "data"), "-U", "postgres", "-A", "trust", "--no-sync")
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def hung_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte (a hung Redis or
    Rasa: a refused port fails fast and proves nothing about timeouts); yields its port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)  # held open, never read or answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(timeout=2)
        listener.close()
        for conn in accepted:
            conn.close()
