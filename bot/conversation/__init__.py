"""The conversation engine: a debtor's message from the webhook to the bot's answer.

Reading order for a newcomer (docs/conversation.md follows a message through them):

- `receive` is the webhook's one call: rate limit (`abuse`), spool replay (`spool`), save and claim,
  answer inline within the time budget, hand what waits to a worker;
- `inbound` parses Twilio's form and stores the message (idempotent on its MessageSid), recording it on
  its conversation with `first_look`'s fused statement, which also claims the lease and reads what the
  first look needs (each check defined once);
- `claiming` holds the `Lease` (statements in `leases`): claim a conversation, look at its next ready
  message, let it go;
- `decide` is the decision table: keywords, handoff silence, the reply-loop guard (`abuse`), complaints
  (`complaints`), identity (`identity`, `contacts`), media, the agreement-offer pick, then Rasa;
- `rasa_turn` carries a decision out (the Rasa turn, the answer saved, the Rasa-outage policy);
- `loop` answers a conversation's messages in order and sends the replies (Twilio's 10-reply limit);
- `jobs` are the RQ entry points (process, deliver, ping); `sweep` is the minute sweep and
  `sweep_schedule` keeps it alive; `spool` keeps messages that arrive while the database is down;
- `handoff` hands a conversation to a person; `entities` makes Rasa's entities usable; `chat` runs the
  engine from a terminal (`regua chat`).

Replies go out through `bot.delivery`; the services the engine works with are built by `bot.runtime`.
"""
