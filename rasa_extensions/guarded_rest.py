"""Rasa's REST input channel behind the Rasa auth token.

Rasa's `--auth-token` guards its HTTP API (`/status`, `/model/parse`, ...) but no input channel: without this
guard anyone who reaches Rasa's port could talk as any conversation id through `/webhooks/rest/webhook`,
and the actions would answer with that conversation's debtor's data. Rasa loads this class from the
credentials file `regua rasa-server` writes (`var/credentials.yml`, `{"token": ...}`).

It also says what the model made of each message (issue 17 §1): after the turn, one more item is added to
the answer, `{"custom": {"regua_prediction": {...}}}`, with the tracker's reading of the message (intent,
confidence, the ranking's top 3, entities) and the model that read it, so Régua records every prediction
without a second call to Rasa. Régua's client takes that item out of the bot's messages; a recording that
fails here leaves the answer as it was.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# The key of the item that carries the turn's prediction (Régua's client looks for it).
PREDICTION_KEY = "regua_prediction"
RANKING_SIZE = 3


def token_matches(provided: str | None, expected: str) -> bool:
    """True when `provided` equals the (non-empty) `expected` token; compared in constant time."""
    if not expected or provided is None:
        return False
    return hmac.compare_digest(provided.encode(), expected.encode())


class GuardedRestInput(RestInput):
    """The REST channel (same URL, `/webhooks/rest/webhook`) that refuses calls without `?token=`."""

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        """The channel with the token of the credentials file (none: every call is refused)."""
        return cls(str((credentials or {}).get("token") or ""))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST blueprint with a request middleware checking the token first, and each turn's
        prediction added to its answer."""
        apps: list[Any] = []  # the Sanic app, known from the first request (its agent changes on reload)

        async def handle_and_report(message: UserMessage) -> None:
            await on_new_message(message)
            # The plain (non-streamed) answer only: the streaming channel subclasses the collector but
            # holds a queue, and nothing reads a prediction from a stream.
            if apps and type(message.output_channel) is CollectingOutputChannel:
                await _report_prediction(apps[0].ctx.agent, message, message.output_channel)

        blueprint = super().blueprint(handle_and_report)
        token = self.token

        @blueprint.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if not apps:
                apps.append(request.app)
            if token_matches(request.args.get("token"), token):
                return None
            # Method, path and address only: the body holds a debtor's message, the query the attempt.
            logger.warning(
                "Rasa refused a call without a valid token: %s %s from %s",
                request.method,
                request.path,
                request.ip,
            )
            return response.json({"error": "unauthorized"}, status=401)

        return blueprint


async def _report_prediction(agent: Any, message: UserMessage, collector: CollectingOutputChannel) -> None:
    """Add the turn's prediction to the collected answer; on any failure, log its type and add nothing
    (the debtor's answer matters more than the record)."""
    try:
        tracker = agent.tracker_store.retrieve(message.sender_id)
        if inspect.isawaitable(tracker):
            tracker = await tracker
        event = _user_event(tracker, message.message_id) if tracker is not None else None
        if event is None:
            return
        collector.messages.append(
            {"recipient_id": message.sender_id, "custom": {PREDICTION_KEY: prediction_of(event, agent)}}
        )
    except Exception as error:  # never let the record break the turn
        logger.warning("could not report the turn's prediction: %s", type(error).__name__)


def _user_event(tracker: Any, message_id: str | None) -> Any:
    """The tracker's user event for `message_id` (the latest user event when Rasa gave none)."""
    for event in reversed(tracker.events):
        if getattr(event, "type_name", None) != "user":
            continue
        if message_id is None or getattr(event, "message_id", None) == message_id:
            return event
    return None


def prediction_of(event: Any, agent: Any) -> dict[str, Any]:
    """What the model made of a user event: intent, confidence, the ranking's top 3, entities, and the
    model (its id, from the event or the loaded model, and its file name)."""
    parse = event.parse_data or {}
    intent = parse.get("intent") or {}
    processor = getattr(agent, "processor", None)
    metadata = getattr(processor, "model_metadata", None)
    model_id = (getattr(event, "metadata", None) or {}).get("model_id") or getattr(metadata, "model_id", None)
    model_file = getattr(processor, "model_filename", None)
    return {
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "ranking": [
            {"name": r.get("name"), "confidence": r.get("confidence")}
            for r in (parse.get("intent_ranking") or [])[:RANKING_SIZE]
        ],
        "entities": [
            {k: e.get(k) for k in ("entity", "value", "start", "end", "confidence_entity", "extractor")}
            for e in parse.get("entities") or []
        ],
        "model_id": model_id,
        "model_file": str(model_file) if model_file else None,
    }
