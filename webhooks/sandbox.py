"""`/sandbox`: in sandbox mode (no Twilio credentials), the messages Régua stored instead of sending.

Registered only in sandbox mode, so a production instance never shows conversations without login.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.models import Conversation, Message
from webhooks.extensions import db

bp = Blueprint("sandbox", __name__)

RECENT_CONVERSATIONS = 20
MESSAGES_PER_CONVERSATION = 30


@bp.get("/sandbox")
def index():  # type: ignore[no-untyped-def]
    """The most recent conversations with their latest messages, both directions."""
    session = db.session()
    conversations = session.scalars(
        select(Conversation)
        .options(selectinload(Conversation.debtor))
        .order_by(Conversation.updated_at.desc())
        .limit(RECENT_CONVERSATIONS)
    ).all()
    threads = []
    for conversation in conversations:
        latest = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id.desc())
            .limit(MESSAGES_PER_CONVERSATION)
        ).all()
        threads.append((conversation, list(reversed(latest))))
    return render_template("sandbox.html", threads=threads)
