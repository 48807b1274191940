"""The agents' side: logging in through the real form (CSRF token and all), opening pages, and polling as
the console's pages do (console.js: the open conversation's `novas` every second; console-notify.js:
`novidades` every 3 seconds), in threads rather than twenty browsers.

Every request carries a User-Agent naming what it is (`console-bench-<kind>-<n>`), so the web app's access
log, which the bench has gunicorn write with each request's duration, gives its server time.
"""

from __future__ import annotations

import html
import itertools
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from bench.console.seed import PASSWORD, Person

REQUEST_TIMEOUT = 30.0
NEWS_EVERY = 3.0  # console-notify.js
UPDATES_EVERY = 1.0  # console.js
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_AFTER = re.compile(r'data-after="(\d+)"')
_SINCE = re.compile(r'data-since="([^"]+)"')
_TAGS = itertools.count(1)


def tag(kind: str) -> dict[str, str]:
    """Headers naming one request for the access log: `console-bench-<kind>-<n>`, n unique."""
    return {"User-Agent": f"console-bench-{kind}-{next(_TAGS)}"}


def login(web_url: str, email: str, password: str = PASSWORD) -> requests.Session:
    """A session logged in as `email` through the login form (GET for the CSRF token, then POST)."""
    session = requests.Session()
    page = session.get(f"{web_url}/", headers=tag("login"), timeout=REQUEST_TIMEOUT)
    token = _CSRF.search(page.text)
    if token is None:
        raise RuntimeError(f"no CSRF token on the login page ({page.status_code})")
    form = {"csrf_token": html.unescape(token.group(1)), "email": email, "password": password}
    answer = session.post(f"{web_url}/", data=form, headers=tag("login"), timeout=REQUEST_TIMEOUT)
    if not answer.ok or "/console" not in answer.url:
        raise RuntimeError(f"login as {email} failed ({answer.status_code}, at {answer.url})")
    return session


@dataclass
class Timed:
    """One measured request: its tag (User-Agent), status, and client time in seconds."""

    tag: str
    status: int
    seconds: float


def timed_get(session: requests.Session, url: str, kind: str) -> tuple[Timed, requests.Response]:
    """GET `url` tagged as `kind`; the client time is from sending to the whole body read."""
    headers = tag(kind)
    start = time.perf_counter()
    response = session.get(url, headers=headers, timeout=REQUEST_TIMEOUT)
    return Timed(headers["User-Agent"], response.status_code, time.perf_counter() - start), response


@dataclass
class Sighting:
    """When an agent's page first showed a message marked `token` (time.monotonic())."""

    page: float | None = None  # the open conversation's `novas` answer carried it
    alert: float | None = None  # `novidades` announced it (the banner and sound)


@dataclass
class AgentPage:
    """One agent with one of their conversations open: polls as the browser would until `stop` is set,
    and records when each awaited message (by the unique token in its body) first came back."""

    person: Person
    web_url: str
    conversation_id: int
    session: requests.Session
    stop: threading.Event
    phase: float = 0.0  # where in its polling interval this page's timers tick (0..1)
    after: int = 0
    since: str = ""
    awaited: dict[str, Sighting] = field(default_factory=dict)
    announced: set[int] = field(default_factory=set)
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    polls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self) -> None:
        """Load the conversation page, as the browser does first: the ids to poll from."""
        _, page = timed_get(self.session, f"{self.web_url}/console/conversas/{self.conversation_id}", "open")
        after, since = _AFTER.search(page.text), _SINCE.search(page.text)
        if not page.ok or after is None or since is None:
            raise RuntimeError(f"conversation {self.conversation_id} did not open ({page.status_code})")
        self.after, self.since = int(after.group(1)), html.unescape(since.group(1))

    def expect(self, token: str) -> Sighting:
        """Start watching for the message whose body holds `token`."""
        with self.lock:
            return self.awaited.setdefault(token, Sighting())

    def threads(self) -> list[threading.Thread]:
        """The two pollers of this page (started by the caller)."""
        return [
            threading.Thread(target=self._every, args=(UPDATES_EVERY, self._updates), daemon=True),
            threading.Thread(target=self._every, args=(NEWS_EVERY, self._news), daemon=True),
        ]

    def _every(self, interval: float, poll) -> None:  # type: ignore[no-untyped-def]
        # setInterval with the pages' `busy` guard: a round that is still running skips the next tick.
        # Browsers opened the pages at different moments: each page's timers start at its own phase.
        next_at = time.monotonic() + self.phase * interval
        self.stop.wait(self.phase * interval)
        while not self.stop.is_set():
            try:
                poll()
            except (requests.RequestException, ValueError) as error:
                self.errors += 1
                self.error_kinds[type(error).__name__] += 1
            next_at += interval
            while next_at < time.monotonic():
                next_at += interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def _updates(self) -> None:
        url = (
            f"{self.web_url}/console/conversas/{self.conversation_id}/novas?after={self.after}&notes_after=0"
        )
        _, response = timed_get(self.session, url, "novas")
        now = time.monotonic()
        self.polls += 1
        if not response.ok:
            self.errors += 1
            self.error_kinds[f"HTTP {response.status_code}"] += 1
            return
        data = response.json()
        with self.lock:
            for token, seen in self.awaited.items():
                if seen.page is None and token in data["html"]:
                    seen.page = now
        self.after = int(data["after"])

    def _news(self) -> None:
        url = f"{self.web_url}/console/novidades?since={quote(self.since)}"
        _, response = timed_get(self.session, url, "novidades")
        now = time.monotonic()
        if not response.ok:
            self.errors += 1
            self.error_kinds[f"HTTP {response.status_code}"] += 1
            return
        data = response.json()
        self.since = data["since"]
        fresh = [m["id"] for m in data["messages"] if m["conversation"] == self.conversation_id]
        fresh = [m for m in fresh if m not in self.announced]
        self.announced.update(fresh)
        if fresh:
            # One message at a time is in flight per page (the sender waits for it), so a new debtor
            # message in this conversation is the oldest one not announced yet.
            with self.lock:
                waiting = [seen for seen in self.awaited.values() if seen.alert is None]
                for seen in waiting[: len(fresh)]:
                    seen.alert = now
