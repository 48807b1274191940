"""The conversation engine: a debtor's message from the webhook to the bot's answer.

Reading order for a newcomer:

- `inbound` parses Twilio's form and stores the message (idempotent on its MessageSid);
- `dialogue` processes a conversation's pending messages in order under a lease (`leases`): keywords,
  handoff silence, the reply-loop guard (`abuse`), identity (`identity`, `contacts`), complaints, media,
  the agreement-offer pick, then Rasa;
- `jobs` are the RQ entry points (process, deliver) and the minute sweep; `sweep_schedule` keeps the sweep
  alive; `spool` keeps messages that arrive while the database is down;
- `handoff` hands a conversation to a person; `chat` runs the engine from a terminal (`regua chat`).

Replies go out through `bot.delivery`; the services the engine works with are built by `bot.runtime`.
"""
