"""A local stand-in for the part of Twilio's REST API Régua uses: create and list messages.

It keeps every message it accepted (to count duplicates), can answer the first N creates with an error
(429 storms, 5xx), and can hold each create for a while (so a test can kill a dispatcher while Twilio is
"answering"). Two faults create the message and then fail the answer (`after_create`): "late" answers
only after `late_seconds` (past the client's timeout), a status (500, 503...) answers that error — the
client cannot tell whether Twilio has the message. It runs in a thread of the test process; point
`TWILIO_API_BASE_URL` at `url`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class StandIn:
    """State and knobs of the stand-in."""

    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses for the next creates
    delay_seconds: float = 0.0
    # Faults for the next creates, applied after the message is created: "late" or an HTTP status.
    after_create: list[str | int] = field(default_factory=list)
    late_seconds: float = 6.0
    # Added to the real clock: tests that freeze their dispatchers' time move the stand-in's along.
    clock_offset: timedelta = timedelta(0)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, number: str) -> list[dict[str, Any]]:
        """Messages accepted for `number` (E.164, with or without the whatsapp: prefix)."""
        return [m for m in self.messages if m["to"].removeprefix("whatsapp:") == number]

    def wsgi(self, environ: dict, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        if not request.path.endswith("/Messages.json"):
            return Response("not found", 404)(environ, start_response)
        if request.method == "GET":
            return self._list(request)(environ, start_response)
        return self._create(request)(environ, start_response)

    def _create(self, request: Request) -> Response:
        with self.lock:
            status = self.fail_next.pop(0) if self.fail_next else None
        if status is not None:
            body = {"code": 20429 if status == 429 else 20500, "message": "stand-in error", "status": status}
            return Response(json.dumps(body), status, mimetype="application/json")
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        now = datetime.now(UTC) + self.clock_offset
        message = {
            "sid": f"SM{uuid.uuid4().hex}",
            "to": request.form["To"],
            "from": request.form.get("From") or request.form.get("MessagingServiceSid"),
            "body": request.form.get("Body")
            or " ".join(json.loads(request.form.get("ContentVariables") or "{}").values()),
            "content_sid": request.form.get("ContentSid"),
            "status": "queued",
            "date_created": format_datetime(now, usegmt=True),
            "date_sent": None,
        }
        with self.lock:
            self.messages.append(message)
            fault = self.after_create.pop(0) if self.after_create else None
        if fault == "late":
            time.sleep(self.late_seconds)  # the client has given up by now
        elif fault is not None:
            body = {"code": 20500, "message": "stand-in error after create", "status": fault}
            return Response(json.dumps(body), int(fault), mimetype="application/json")
        return Response(json.dumps(message), 201, mimetype="application/json")

    def _list(self, request: Request) -> Response:
        to = request.args.get("To")
        with self.lock:
            found = [m for m in reversed(self.messages) if to is None or m["to"] == to]
        page = {
            "messages": found[:50],
            "next_page_uri": None,
            "page": 0,
            "page_size": 50,
            "uri": request.path,
        }
        return Response(json.dumps(page), 200, mimetype="application/json")


@contextmanager
def running(port: int = 0) -> Iterator[StandIn]:
    """Serve a stand-in on 127.0.0.1 while the block lasts."""
    standin = StandIn()
    server = make_server("127.0.0.1", port, standin.wsgi, threaded=True)
    standin.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
