"""Régua's custom actions. Each is thin: it asks a service in `bot.answers` what to say and says it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.answers import claims, contact, debts, negotiation, turns
from bot.conversation import entities
from bot.delivery.outgoing import Reply

DomainDict = dict[str, Any]


def _say(dispatcher: CollectingDispatcher, replies: list[Reply]) -> list[dict[str, Any]]:
    for reply in replies:
        dispatcher.utter_message(text=reply.text, image=reply.media_urls[0] if reply.media_urls else None)
    return []


def _respond(
    handler: turns.Handler, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[dict[str, Any]]:
    latest = tracker.latest_message or {}
    # Rasa's entities reach the services: "da pra parcelar em 4x?" must be read as a request for 4x.
    found = entities.merge_adjacent(str(latest.get("text") or ""), latest.get("entities") or [])
    values: dict[str, str] = {}
    for entity in found:
        values.setdefault(entity.entity, entity.value)
    text = str(latest.get("text") or "")
    return _say(
        dispatcher,
        turns.respond(handler, tracker.sender_id, latest.get("metadata"), entities=values, text=text),
    )


class ActionSegundaVia(Action):
    """Sends the open invoices with their Pix code, boleto line and payment link."""

    def name(self) -> str:
        return "action_segunda_via"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(debts.segunda_via, dispatcher, tracker)


class ActionConsultarDivida(Action):
    """Tells how much is owed: each open invoice and the total."""

    def name(self) -> str:
        return "action_consultar_divida"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(debts.consultar_divida, dispatcher, tracker)


class ActionFormaPagamento(Action):
    """Explains how and where to pay."""

    def name(self) -> str:
        return "action_forma_pagamento"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(debts.forma_pagamento, dispatcher, tracker)


class ActionParar(Action):
    """Opts the number out of the channel (free-text opt-out) and confirms."""

    def name(self) -> str:
        return "action_parar"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(contact.parar, dispatcher, tracker)


class ActionFalarAtendente(Action):
    """Hands the conversation to a person and says when they will answer."""

    def name(self) -> str:
        return "action_falar_atendente"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(contact.falar_atendente, dispatcher, tracker)


class ActionRenegociar(Action):
    """Offers two or three agreement options within the creditor's policy."""

    def name(self) -> str:
        return "action_renegociar"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(negotiation.renegociar, dispatcher, tracker)


class ActionJaPaguei(Action):
    """Checks a payment the debtor says was made; records the claim and asks for the receipt."""

    def name(self) -> str:
        return "action_ja_paguei"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(claims.ja_paguei, dispatcher, tracker)


class ActionContestarDivida(Action):
    """Records a dispute, pauses collection and queues it for an agent."""

    def name(self) -> str:
        return "action_contestar_divida"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(claims.contestar_divida, dispatcher, tracker)


class ActionFallback(Action):
    """Asks to rephrase after a first miss, and offers a person after the second."""

    def name(self) -> str:
        return "action_fallback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _say(dispatcher, contact.fallback(contact.consecutive_misses(tracker.events)))


class ActionPrometerPagamento(Action):
    """Records a promise to pay on a date within the policy and sends the charge for that date."""

    def name(self) -> str:
        return "action_prometer_pagamento"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return _respond(negotiation.prometer_pagamento, dispatcher, tracker)
