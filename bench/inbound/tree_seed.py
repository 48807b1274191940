"""Run INSIDE the tree under test (its interpreter, its root as the working directory), never imported by
the bench: migrate an empty database with that tree's migrations, load the demo creditor through that tree's
CSV import, and print the debtors the bench may write as (JSON on the last line of stdout).

The bench runs it as `python -c <this file's text> <json arguments>` so that `bot` is the tree's own: its
schema and its import path are what the run measures. It uses only what every Régua tree since the
benchmark exists has: `bot.migrations.upgrade`, `bot.demo.load_demo`, `bot.db.Database` and the `Debtor`
and `Conversation` models.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bot import demo, migrations
from bot.db import Database
from bot.models import Channel, Conversation, Debtor


def seed(url: str, count: int, conversations: list[list[int]], workdir: str, our_address: str) -> list[dict]:
    """Migrate `url`, load the demo with enough debtors, and return `count` debtors whose phone is theirs
    alone: their id, their WhatsApp address and, for the index ranges `conversations` ([start, end)), the
    id of a conversation made for them (Rasa's sender id in a rasa_rest turn)."""
    migrations.upgrade(url)
    db = Database(url)
    demo.load_demo(db, debtors=int(count * 1.05) + 20, seed=2026, directory=Path(workdir) / "demo")
    with db.session() as session:
        rows = session.execute(select(Debtor.id, Debtor.phone, Debtor.phone_secondary)).all()
        seen = Counter(p for row in rows for p in (row.phone, row.phone_secondary) if p)
        people = [{"debtor_id": r.id, "phone": r.phone} for r in rows if r.phone and seen[r.phone] == 1]
        if len(people) < count:
            raise SystemExit(f"only {len(people)} debtors with a phone of their own; {count} needed")
        people = people[:count]
        for start, end in conversations:
            made = [
                Conversation(
                    channel=Channel.WHATSAPP,
                    address=p["phone"],
                    debtor_id=p["debtor_id"],
                    our_address=our_address,
                )
                for p in people[start:end]
            ]
            session.add_all(made)
            session.flush()
            for person, conversation in zip(people[start:end], made, strict=True):
                person["conversation_id"] = conversation.id
    db.dispose()
    return [
        {
            "debtor_id": p["debtor_id"],
            "twilio": f"whatsapp:{p['phone']}",
            "conversation_id": p.get("conversation_id"),
        }
        for p in people
    ]


if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    print(json.dumps(seed(**options)))
