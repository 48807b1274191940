"""Rasa custom actions (served by the rasa_sdk action server: `regua actions`).

Each action is one class whose `name()` matches domain.yml; actions stay thin and call services in `bot/`.
"""
