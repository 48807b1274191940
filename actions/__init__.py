"""Rasa custom actions (served by the rasa_sdk action server: `regua actions`).

Each action is one class whose `name()` matches domain.yml; actions stay thin and call services in `bot/`.
`actions`: the actions (each calls `bot.answers`); `server`: the rasa_sdk app behind Régua's token check.
"""
