"""The local Twilio stand-in for `bench/reminders.py`: Twilio's Messages API, WhatsApp templates included.

It answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with `bench/twilio_recorder.py`'s
`builtin_answer` (basic auth with the path's account SID, `To`, `From`/`MessagingServiceSid`, body and
media checks, 201 with a Message resource and a fresh SID), plus what that one does not need for the
inbound benchmark: a WhatsApp template message — `ContentSid` (`HX` + 32 hex digits, the pattern of
Twilio's OpenAPI description) and `ContentVariables` (a JSON object), no `Body` — is accepted the way
Twilio accepts it; a malformed `ContentSid` or `ContentVariables` is refused with a 400.

One JSON line per request goes to `--out`: `{"t_in", "t_out", "status", "to", "from", "content_sid", "sid"}`
(`time.time()` when the request arrived and when the answer was ready), so the benchmark counts what
was accepted, when, and for whom. The port (0: any free one) is printed as `port <n>` once listening.

Usage: .venv/bin/python bench/reminders_standin.py --port 0 --out records.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from twilio_recorder import _form_pairs, _twilio_error, builtin_answer

_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


def answer(method: str, path: str, authorization: str, pairs: list[tuple[str, str]]) -> tuple[int, Any]:
    """Twilio's answer; template messages (ContentSid, no Body) are validated here, the rest by the
    recorder's `builtin_answer`."""
    fields = dict(pairs)
    content_sid = fields.get("ContentSid")
    if content_sid is None:
        return builtin_answer(method, path, authorization, pairs)
    if not _CONTENT_SID.match(content_sid):
        return _twilio_error(400, 21656, "Invalid ContentSid")
    try:
        variables = json.loads(fields.get("ContentVariables") or "{}")
    except ValueError:
        variables = None
    if not isinstance(variables, dict):
        return _twilio_error(400, 21656, "The ContentVariables Parameter is invalid")
    # Twilio renders the approved template; a stand-in has no template text, so the variables stand in.
    rendered = fields.get("Body") or " | ".join(str(v) for v in variables.values()) or content_sid
    status, document = builtin_answer(method, path, authorization, [*pairs, ("Body", rendered)])
    return status, document


class StandIn:
    """The aiohttp handler: answer, then record one JSON line."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one request and record it."""
        t_in = time.time()
        body = await request.read()
        pairs = _form_pairs(body, request.headers.get("Content-Type", ""))
        status, document = answer(
            request.method, request.path, request.headers.get("Authorization", ""), pairs
        )
        payload = json.dumps(document)
        t_out = time.time()
        fields = dict(pairs)
        record = {
            "t_in": t_in,
            "t_out": t_out,
            "status": status,
            "to": fields.get("To"),
            "from": fields.get("From") or fields.get("MessagingServiceSid"),
            "content_sid": fields.get("ContentSid"),
            "sid": document.get("sid") if status == 201 else None,
            "error": document.get("code") if status >= 400 else None,
        }
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        return web.Response(text=payload, status=status, content_type="application/json")


async def serve(host: str, port: int, out: IO[str]) -> None:
    """Serve until SIGTERM or SIGINT."""
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", StandIn(out).handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    out.flush()


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file the records go to")
    args = parser.parse_args()
    with args.out.open("a", encoding="utf-8") as out:
        asyncio.run(serve(args.host, args.port, out))


if __name__ == "__main__":
    main()
