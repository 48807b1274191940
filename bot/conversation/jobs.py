"""The RQ entry points of the conversation engine, enqueued by dotted path (bot.runtime.RqLater).

* `process_conversation` answers a conversation's pending messages (enqueued by the webhook).
* `deliver_conversation` sends a conversation's pending replies (scheduled for retries).
* `ping` proves a worker picks up work (`regua health --deep`).

The minute sweep is `bot.conversation.sweep.sweep`; the reminders' job is `bot.reminders.jobs`.
"""

from __future__ import annotations

from bot import runtime
from bot.conversation import loop


def process_conversation(conversation_id: int) -> bool:
    """Job: answer the conversation's pending messages."""
    return loop.process_conversation(runtime.services(), conversation_id)


def deliver_conversation(conversation_id: int) -> None:
    """Job: send the conversation's pending replies (retry if one must wait)."""
    loop.send_now(runtime.services(), conversation_id)


def ping() -> str:
    """A no-op job: `regua health --deep` enqueues it to prove a worker really picks up work."""
    return "pong"
