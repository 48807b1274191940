"""Twilio's side of a Régua turn, played by the bench: the signed webhook form of a debtor's message, reading
the TwiML replies of the webhook's response, the `sent` status callbacks Twilio posts for them, and the
records of the local stand-in that answers Twilio's REST API (`bench/twilio_recorder.py`)."""

from __future__ import annotations

import contextlib
import json
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bench.inbound.constants import ACCOUNT_SID, AUTH_TOKEN, REQUEST_TIMEOUT, WHATSAPP_FROM
from bench.inbound.load import Shot
from bot.db import Database
from bot.models import Message

# Régua's Twilio webhook for inbound messages (webhooks/twilio.py).
MESSAGES_PATH = "/webhooks/twilio/messages"


def new_sid(prefix: str = "SM") -> str:
    """A fresh Twilio-shaped message SID."""
    return f"{prefix}{uuid.uuid4().hex}"


def inbound_form(sender: str, body: str) -> dict[str, str]:
    """The parameters Twilio posts for a WhatsApp text message from `sender` ("whatsapp:+55...") to the
    bench's Régua number, with a fresh MessageSid."""
    sid = new_sid()
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": WHATSAPP_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        "WaId": sender.removeprefix("whatsapp:+"),
        "ProfileName": "Bench",
    }


def signed_forms(shots: list[Shot]) -> dict[int, dict[str, str]]:
    """Twilio's webhook form for each shot, by shot index; each shot is keyed by its MessageSid."""
    forms = {}
    for shot in shots:
        form = inbound_form(shot.person.twilio, shot.text)
        shot.key = form["MessageSid"]
        forms[shot.index] = form
    return forms


def post_inbound(
    web_url: str, form: dict[str, str], session: requests.Session | None = None
) -> requests.Response:
    """POST `form` to Régua's inbound webhook at `web_url`, signed as Twilio signs it (the public URL is
    `web_url` itself: the bench sets PUBLIC_BASE_URL so)."""
    url = f"{web_url}{MESSAGES_PATH}"
    headers = {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, form)}
    return (session or requests).post(url, data=form, headers=headers, timeout=REQUEST_TIMEOUT)


def twiml_replies(content: bytes) -> list[tuple[int, str]]:
    """The replies of a webhook's TwiML response, in order: (reply row id, status callback URL), read from
    each `<Message action=".../status?reply=<id>">` as Twilio reads them. Raises ValueError for a document
    that is not such a response."""
    root = ET.fromstring(content)
    if root.tag != "Response":
        raise ValueError(f"not a TwiML response: <{root.tag}>")
    replies = []
    for message in root.iter("Message"):
        action = message.attrib.get("action", "")
        reply = parse_qs(urlsplit(action).query).get("reply", [""])[0]
        if not reply.isdigit():
            raise ValueError(f"a <Message> without a reply callback: {action!r}")
        replies.append((int(reply), action))
    return replies


def play_twilio_callbacks(web_url: str, database: Database, items: list[tuple[int, str]]) -> dict[str, int]:
    """After a run, do what Twilio does with the TwiML replies it read (`twiml_replies` of the responses):
    give each a SID and post its `sent` status callback (signed) to the `<Message>`'s action URL; then check
    that Régua recorded every SID. Outside the measured time: the API replies' callbacks are not played
    either."""
    posted: dict[int, str] = {}
    web = urlsplit(web_url)
    validator = RequestValidator(AUTH_TOKEN)

    def post(item: tuple[int, str]) -> None:
        reply_id, action = item
        sid = new_sid()
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": "sent", "AccountSid": ACCOUNT_SID}
        url = urlunsplit(urlsplit(action)._replace(scheme=web.scheme, netloc=web.netloc))
        headers = {"X-Twilio-Signature": validator.compute_signature(action, form)}
        response = requests.post(url, data=form, headers=headers, timeout=REQUEST_TIMEOUT)
        if response.ok:
            posted[reply_id] = sid

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, items))
    recorded = 0
    with database.session() as session:
        for chunk in chunks(sorted(posted), 500):
            rows = session.execute(select(Message.id, Message.provider_sid).where(Message.id.in_(chunk)))
            recorded += sum(1 for row in rows if posted[row.id] == row.provider_sid)
    return {"replies": len(items), "callbacks_posted": len(posted), "sids_recorded": recorded}


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size` (SQL `IN` lists stay short)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_records(path: Path) -> list[dict[str, Any]]:
    """The recording proxy's records so far."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    return records


def stand_in_excess(
    shots: list[Shot], replies: dict[int, list[dict]], inbound: dict[str, dict], records: list[dict[str, Any]]
) -> int:
    """Replies the stand-in received more often than the database holds them (sent twice)."""
    addresses = {shot.person.twilio for shot in shots}
    in_db: Counter[tuple[str, str]] = Counter()
    for shot in shots:
        row = inbound.get(shot.key)
        for reply in replies.get(row["id"], []) if row else []:
            media = tuple(m.get("url") for m in reply["media"] or [])
            in_db[(shot.person.twilio, reply["body"], media)] += 1
    at_stand_in = Counter(
        (r["to"], r["body"] or "", tuple(r.get("media") or []))
        for r in records
        if r.get("to") in addresses and 200 <= r["status"] < 300
    )
    return sum(1 for key, n in at_stand_in.items() if n > in_db[key])
