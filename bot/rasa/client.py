"""The Rasa server, reached over HTTP only (its REST input channel, `/model/parse` and tracker events)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3

from bot.observability.instruments import instruments


class RasaUnavailable(RuntimeError):
    """Rasa did not answer in time, or answered with an error. The message is safe to log; `reason` is
    its kind, a metric label (unreachable, refused, http_4xx, http_5xx, bad_answer)."""

    def __init__(self, message: str, reason: str = "bad_answer") -> None:
        super().__init__(message)
        self.reason = reason


def _http_reason(status: int) -> str:
    return "http_5xx" if status >= 500 else "http_4xx"


@dataclass(frozen=True)
class BotMessage:
    """One message the bot wants to send: text, optional image URL, optional quick-reply titles."""

    text: str = ""
    image: str | None = None
    buttons: list[str] = field(default_factory=list)

    def rendered_text(self) -> str:
        """The text with quick replies written out as numbered options (WhatsApp/SMS have no buttons)."""
        if not self.buttons:
            return self.text
        options = "\n".join(f"{n}) {title}" for n, title in enumerate(self.buttons, start=1))
        return f"{self.text}\n{options}".strip()


# The item Régua's REST channel (rasa_extensions/guarded_rest.py) adds to a turn's answer: the prediction.
PREDICTION_KEY = "regua_prediction"


@dataclass(frozen=True)
class Prediction:
    """What the model made of one message: its intent and confidence, the ranking's top 3 as (intent,
    confidence), the entities found, and the model that read it (Rasa's model id and file name)."""

    intent: str | None
    confidence: float | None
    ranking: list[tuple[str, float]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    model_id: str | None = None
    model_file: str | None = None


@dataclass(frozen=True)
class RasaTurn:
    """One turn's answer: the bot's messages, and the prediction when Rasa reported one."""

    messages: list[BotMessage]
    prediction: Prediction | None = None


class RasaClient:
    """Sends a debtor's message to Rasa and returns what the bot answers.

    Rasa is an internal service, reached directly (no proxy) with urllib3: on this hot path `requests`
    cost ~0.8 ms more CPU per call (see bot/channels/twilio_http.py). Every call carries the Rasa auth
    token as `?token=` (how Rasa's API and Régua's guarded REST channel expect it); it is never logged:
    errors name only the exception type or the HTTP status.

    With `route` (the engine's: `bot.nlu_serving.routing`), each call asks it for the base URL of the Rasa
    slot answering debtors now, so a model swap moves new turns while turns in flight finish where they
    started."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        pool: urllib3.PoolManager | None = None,
        *,
        token: str = "",
        route: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.route = route
        self.timeout = timeout
        self._query = f"?{urlencode({'token': token})}" if token else ""
        # Several gunicorn threads of one process may call Rasa at once.
        self.http = pool or urllib3.PoolManager(maxsize=8, retries=False)

    def _request(
        self, operation: str, method: str, path: str, payload: dict[str, Any] | None, timeout: float
    ) -> Any:
        """Send a request and return the decoded JSON answer; raises `RasaUnavailable`. Its latency and
        any failure are counted under `operation` (bot.observability.instruments)."""
        started = time.perf_counter()
        try:
            return self._exchange(method, path, payload, timeout)
        except RasaUnavailable as error:
            instruments().rasa_errors.labels(operation, error.reason).inc()
            raise
        finally:
            instruments().rasa_latency.labels(operation).observe(time.perf_counter() - started)

    def _exchange(self, method: str, path: str, payload: dict[str, Any] | None, timeout: float) -> Any:
        base_url = self.route().rstrip("/") if self.route is not None else self.base_url
        try:
            response = self.http.request(
                method,
                f"{base_url}{path}{self._query}",
                body=json.dumps(payload).encode() if payload is not None else None,
                headers={"Content-Type": "application/json"} if payload is not None else None,
                timeout=timeout,
            )
        except urllib3.exceptions.HTTPError as error:
            raise RasaUnavailable(f"Rasa unreachable: {type(error).__name__}", "unreachable") from None
        if response.status in (401, 403):
            raise RasaUnavailable(
                f"Rasa refused the call (HTTP {response.status}): check RASA_AUTH_TOKEN", "refused"
            )
        if response.status != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status}", _http_reason(response.status))
        try:
            return json.loads(response.data)
        except ValueError:
            raise RasaUnavailable("Rasa answered something that is not JSON", "bad_answer") from None

    def _post(self, operation: str, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON to Rasa and return the decoded answer; raises `RasaUnavailable`."""
        return self._request(operation, "POST", path, payload, self.timeout)

    def turn(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> RasaTurn:
        """One conversation turn through the REST channel: the bot's messages and the model's prediction
        (which the channel reports as one more item); raises `RasaUnavailable`."""
        items = self._post(
            "turn",
            "/webhooks/rest/webhook",
            {"sender": sender_id, "message": text, "metadata": metadata or {}},
        )
        if not isinstance(items, list):
            raise RasaUnavailable("Rasa answered an unexpected JSON document", "bad_answer")
        prediction = None
        messages = []
        for item in items:
            if not isinstance(item, dict):
                continue
            reported = (
                (item.get("custom") or {}).get(PREDICTION_KEY)
                if isinstance(item.get("custom"), dict)
                else None
            )
            if reported is not None:
                prediction = read_prediction(reported)
            else:
                messages.append(_bot_message(item))
        return RasaTurn(_join_images(messages), prediction)

    def parse(self, text: str) -> dict[str, Any]:
        """Rasa's NLU reading of `text` (`/model/parse`: intent, entities); raises `RasaUnavailable`."""
        parsed = self._post("parse", "/model/parse", {"text": text})
        return parsed if isinstance(parsed, dict) else {}

    def append_event(self, sender_id: str, event: str) -> None:
        """Append an event without parameters (`pause`, `resume`) to the conversation's tracker
        (`POST /conversations/<id>/tracker/events`); raises `RasaUnavailable`."""
        self._post("tracker_event", f"/conversations/{sender_id}/tracker/events", {"event": event})

    def status(self) -> dict[str, Any]:
        """Rasa's `/status` (`model_file`, `model_id`, ...); raises `RasaUnavailable`."""
        status = self._request("status", "GET", "/status", None, min(self.timeout, 2.0))
        return status if isinstance(status, dict) else {}

    def healthy(self) -> bool:
        """True when Rasa answers `/status` with a loaded model."""
        try:
            return bool(self.status().get("model_file"))
        except RasaUnavailable:
            return False

    def load_model(self, model_file: str, timeout: float) -> None:
        """Replace the model with `model_file` (`PUT /model`; a path Rasa's server can read) and wait up to
        `timeout` for it; raises `RasaUnavailable`. Rasa answers nothing else while it loads
        (RasaHQ/rasa#3910): only ever call this on a slot that is not answering debtors."""
        try:
            response = self.http.request(
                "PUT",
                f"{self.base_url}/model{self._query}",
                body=json.dumps({"model_file": model_file}).encode(),
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
        except urllib3.exceptions.HTTPError as error:
            raise RasaUnavailable(f"Rasa did not load the model: {type(error).__name__}") from None
        if response.status != 204:
            raise RasaUnavailable(f"Rasa refused the model (HTTP {response.status})")


def _join_images(messages: list[BotMessage]) -> list[BotMessage]:
    """Rasa's REST channel splits one bot message with text and image into a text item and an image-only
    item; join them back, so a WhatsApp reply carries the code and its QR code together."""
    joined: list[BotMessage] = []
    for message in messages:
        previous = joined[-1] if joined else None
        if message.image and not message.text and not message.buttons and previous and not previous.image:
            joined[-1] = BotMessage(text=previous.text, image=message.image, buttons=previous.buttons)
        else:
            joined.append(message)
    return joined


def _bot_message(item: dict[str, Any]) -> BotMessage:
    buttons = [str(b.get("title", "")) for b in item.get("buttons") or [] if isinstance(b, dict)]
    return BotMessage(text=str(item.get("text") or ""), image=item.get("image"), buttons=buttons)


def read_prediction(reported: object) -> Prediction | None:
    """The typed `Prediction` of what the channel reported; None when it is not a prediction at all."""
    if not isinstance(reported, dict):
        return None
    ranking = [
        (str(r["name"]), float(r.get("confidence") or 0.0))
        for r in reported.get("ranking") or []
        if isinstance(r, dict) and r.get("name")
    ]
    confidence = reported.get("confidence")
    return Prediction(
        intent=str(reported["intent"]) if reported.get("intent") else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        ranking=ranking,
        entities=[e for e in reported.get("entities") or [] if isinstance(e, dict)],
        model_id=str(reported["model_id"]) if reported.get("model_id") else None,
        model_file=str(reported["model_file"]) if reported.get("model_file") else None,
    )
