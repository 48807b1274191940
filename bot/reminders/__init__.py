"""The régua: proactive reminder cadences over WhatsApp and SMS.

- `cadence` (the public face and schema reference) over `cadence_model` (steps, variants, templates, limits),
  `cadence_schema` (loading and validating a cadence file, reporting through `cadence_checker`),
  `forbidden` (what reminders must never say, CDC arts. 42 and 71) and `rendering` (filling a step's
  texts, choosing a variant and the holdout);
- `planner`: due cadence steps become outbox rows; `scheduler`: the process that plans and keeps dispatchers
  running; `jobs`: the dispatchers' RQ job;
- `dispatch`: the dispatcher's batch, over `claiming` (the lease, renewed and fenced), `rechecks` (may the row
  still go, on which channel), `composing` (one combined message per debtor) and `outbox_rows` (what becomes
  of each row); messages go out through `bot.delivery`;
- `window` (the legal contact window), `throttle` (the shared send rate), `sms` (segments and cost),
  `preview` (campaign previews and outbox status).
"""
