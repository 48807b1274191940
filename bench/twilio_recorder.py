"""The inbound benchmark's local Twilio stand-in: a recording proxy, or a small Twilio look-alike.

Everything that would go to Twilio's REST API in the benchmark (Régua's web app or worker, and Rasa's own
`twilio` output channel) is sent here. One JSON line is appended to `--out` per request:

    {"t_in": ..., "t_out": ..., "status": 201, "method": "POST", "path": "...", "to": "...",
     "from": "...", "body": "...", "media": ["..."], "sid": "SM...", "error": null}

`t_in` is when the request arrived, `t_out` when the answer was ready (wall clock, `time.time()`, so the
benchmark can compare it with its own send times); `sid` is the message SID given back.

Two modes:

* `--upstream builtin` (the default of the benchmark): this process *is* the stand-in. It answers
  `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way Twilio's Programmable Messaging API does
  for the parameters Régua and Rasa send: HTTP basic auth with the path's account SID (else 401, code
  20003), `To` required (21604), `From` or `MessagingServiceSid` required (21603), a `Body` or at least
  one `MediaUrl` (21602), a body of at most 1,600 characters (21617), at most 10 `MediaUrl` (21623);
  otherwise 201 with a Message resource (a fresh random `SM`/`MM` SID, status `queued`). Anything else
  is 404 (20404).
* `--upstream http://...`: a recording proxy in front of another stand-in (Prism serving Twilio's OpenAPI
  description). Prism 5.16 refuses Twilio's own encoding of a list in a form (`MediaUrl=a&MediaUrl=b`, and
  a single `MediaUrl=a`) with a 422 "must be array", yet accepts the bracket form `MediaUrl[]=a`; the proxy
  rewrites `MediaUrl` keys to `MediaUrl[]` so valid requests with media are not refused.

`--delay-ms N` holds every answer N milliseconds (without blocking other requests) before it is given, to
stand for the real API's latency (a `Messages.json` create takes a few hundred milliseconds from Brazil);
`t_out` includes the delay.

Usage: .venv/bin/python bench/twilio_recorder.py --port 4011 --upstream builtin --out records.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import time
import uuid
from email.utils import formatdate
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

# Headers that describe one hop, not the message: never forwarded.
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/Messages\.json$")
MAX_BODY_CHARS = 1600
MAX_MEDIA = 10


def _form_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    if "application/x-www-form-urlencoded" not in content_type:
        return []
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _twilio_error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _account_from_auth(header: str) -> str | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user if password else None


def builtin_answer(
    method: str, path: str, authorization: str, pairs: list[tuple[str, str]]
) -> tuple[int, Any]:
    """What Twilio's Messages API would answer (for the parameters the benchmark's senders use)."""
    match = _MESSAGES_PATH.match(path)
    if method != "POST" or match is None:
        return _twilio_error(404, 20404, "The requested resource was not found")
    if _account_from_auth(authorization) != match["account"]:
        return _twilio_error(401, 20003, "Authenticate")
    fields = dict(pairs)
    media = [value for key, value in pairs if key in ("MediaUrl", "MediaUrl[]")]
    body = fields.get("Body", "")
    if not fields.get("To"):
        return _twilio_error(400, 21604, "A 'To' phone number is required.")
    if not (fields.get("From") or fields.get("MessagingServiceSid")):
        return _twilio_error(400, 21603, "A 'From' phone number is required.")
    if not body and not media:
        return _twilio_error(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY_CHARS:
        return _twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if len(media) > MAX_MEDIA:
        return _twilio_error(400, 21623, "Number of media files exceeds allowed limit.")
    sid = f"{'MM' if media else 'SM'}{uuid.uuid4().hex}"
    now = formatdate(usegmt=True)
    return 201, {
        "sid": sid,
        "account_sid": match["account"],
        "to": fields["To"],
        "from": fields.get("From"),
        "messaging_service_sid": fields.get("MessagingServiceSid"),
        "body": body,
        "status": "queued",
        "num_media": str(len(media)),
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "uri": f"/2010-04-01/Accounts/{match['account']}/Messages/{sid}.json",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{match['account']}/Messages/{sid}/Media.json"},
    }


class Recorder:
    """The aiohttp application: answer (or forward), then record one JSON line."""

    def __init__(self, upstream: str, out: IO[str], delay: float = 0.0) -> None:
        self.upstream = None if upstream == "builtin" else upstream.rstrip("/")
        self.out = out
        self.delay = delay
        self.session: ClientSession | None = None

    async def start(self, _app: web.Application) -> None:
        """Open the pooled client session to the upstream stand-in."""
        if self.upstream:
            self.session = ClientSession(
                connector=TCPConnector(limit=0, limit_per_host=0), timeout=ClientTimeout(total=30)
            )

    async def stop(self, _app: web.Application) -> None:
        """Close the client session and flush the records."""
        if self.session is not None:
            await self.session.close()
        self.out.flush()

    async def _forward(
        self, request: web.Request, body: bytes, pairs: list[tuple[str, str]]
    ) -> tuple[int, bytes]:
        assert self.session is not None
        if pairs and any(key == "MediaUrl" for key, _ in pairs):
            body = urlencode([("MediaUrl[]" if k == "MediaUrl" else k, v) for k, v in pairs]).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as response:
            return response.status, await response.read()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer or forward one request, and record it."""
        t_in = time.time()
        body = await request.read()
        pairs = _form_pairs(body, request.headers.get("Content-Type", ""))
        if self.session is None:
            status, document = builtin_answer(
                request.method, request.path, request.headers.get("Authorization", ""), pairs
            )
            payload = json.dumps(document).encode()
        else:
            status, payload = await self._forward(request, body, pairs)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        t_out = time.time()
        sid = None
        if payload[:1] == b"{":
            try:
                sid = json.loads(payload).get("sid")
            except ValueError:
                sid = None
        fields = dict(pairs)
        record = {
            "t_in": t_in,
            "t_out": t_out,
            "status": status,
            "method": request.method,
            "path": request.path,
            "to": fields.get("To"),
            "from": fields.get("From"),
            "body": fields.get("Body"),
            "media": [v for k, v in pairs if k in ("MediaUrl", "MediaUrl[]")],
            "sid": sid if 200 <= status < 300 else None,
            "error": None if status < 400 else payload[:400].decode("utf-8", errors="replace"),
        }
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()
        return web.Response(body=payload, status=status, content_type="application/json")


def main() -> None:
    """Run until SIGTERM or SIGINT (aiohttp handles both)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="'builtin', or the upstream stand-in's base URL")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file the records go to")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="hold every answer this long (the real API's latency)"
    )
    args = parser.parse_args()
    with args.out.open("a", encoding="utf-8") as out:
        recorder = Recorder(args.upstream, out, args.delay_ms / 1000)
        app = web.Application(client_max_size=1024 * 1024)
        app.on_startup.append(recorder.start)
        app.on_cleanup.append(recorder.stop)
        app.router.add_route("*", "/{tail:.*}", recorder.handle)
        web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
