"""Régua's core. One package per area (each `__init__` lists its modules):

`conversation` (the inbound engine), `delivery` (getting messages to Twilio once), `answers` (what the bot
answers per intent), `agreements` (renegotiation, promises to pay), `rasa` (Rasa over HTTP, its server,
training), `reminders` (the régua), `payments`, `imports` (CSV files), `channels` (Twilio, TwiML, sandbox),
`privacy` (LGPD), `analytics` (the collection metrics), `experiments` (A/B tests of the régua's steps),
`nlu_ops` (predictions recorded, the NLU inbox, training examples), `models` (the data model), `cli` (the
`regua` command).

Loose modules are the infrastructure and helpers every package uses: `config` (reading each variable in
`config_parsing`, production's refusals in `production_checks`), `db`, `migrations`, `redis_client`,
`embedded_redis`, `breaker` (Redis on the webhook's inline path), `runtime` (the composition root:
`Services`, the job adapter), `worker`, `health`, `cached_probe`, `texts` (every sentence a debtor reads),
`optout`, `hours` (agents' hours), `documents` (CPF/CNPJ), `phones`, `money`, `localtime`, `text_folding`,
`owner_ids`, `audit`, `logging_setup`, `redaction` (personal data out of error texts, and masked in a
debtor's message shown elsewhere), `demo` (demo data).
"""
