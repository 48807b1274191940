"""The debtor card's one-click actions, reusing the bot's own services.

* `send_copy`: the segunda via of one open invoice or instalment (bot.answers.debts.charge_replies: the
  updated amount, the payment page link, the Pix code and the boleto line);
* `propose` (one of the policy's options, bot.agreements) and `propose_outside` (a supervisor's own terms,
  with a written reason): the terms are sent and the offer waits; `accept` registers the debtor's yes
  (bot.agreements.lifecycle.accept) and sends the agreement and its first instalment's charge;
* `record_promise` (bot.agreements.promises.promise) and its confirmation with the charge for that day.

(Pausing the régua, resolving a case and registering an opt-out write nothing to the debtor:
bot.console.card_records.)

Every action takes the conversation's row lock, is allowed only to who may act on the conversation
(bot.people.roles) and is audited under the person. What goes to the debtor is saved as the agent's
messages (`sent_by_user_id`) under the form's nonce, after the composer's rules (opt-out, the WhatsApp
24-hour window, the legal contact window), and delivered after the commit like the composer's
(`composer.deliver_now`): the same form twice does the action once. Data about the debt goes only to a
number confirmed as the debtor's (bot.conversation.identity), as in the bot's answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, texts
from bot.agreements import lifecycle, offers, pricing, promises
from bot.answers.debts import charge_replies
from bot.answers.negotiation import agreement_closed_replies, promise_replies
from bot.config import Settings
from bot.console import composer, sms_alternative, thread
from bot.console.card import debtor_today
from bot.console.card_records import CardError, Done, locked_conversation
from bot.conversation import identity
from bot.conversation.identity import Trust
from bot.delivery import outgoing
from bot.delivery.outgoing import Reply
from bot.models import (
    AgreementOffer,
    AgreementPolicy,
    AgreementStatus,
    Channel,
    Conversation,
    Creditor,
    Debtor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    Message,
    OfferStatus,
    User,
    utcnow,
)
from bot.payments import charges
from bot.people.accounts import actor
from bot.people.roles import Permission, require

NONCE_MAX_CHARS = 48  # the rows' nonces add ".<n>" (client_nonce holds 64)
REASON_MIN_CHARS = 10
MAX_DISCOUNT_PERCENT = 90


@dataclass(frozen=True)
class Submit:
    """What every action's form carries: its nonce, and the confirmation of a proactive message outside
    the legal contact window."""

    nonce: str = ""
    confirmed: bool = False
    via_sms: bool = False  # outside WhatsApp's 24-hour window: a segunda via goes by SMS (sms_alternative)


_AGAIN = Done("Esta ação já tinha sido feita (o mesmo formulário veio duas vezes).")


def _already_done(session: Session, conversation: Conversation, submit: Submit) -> bool:
    """True when this form's nonce already saved its messages (a double click, a resubmitted form), in
    this conversation or, by SMS, in the debtor's SMS conversation."""
    if not submit.nonce or len(submit.nonce) > NONCE_MAX_CHARS:
        raise CardError("Formulário inválido: recarregue a página.")
    found = session.scalar(select(Message.conversation_id).where(Message.client_nonce == submit.nonce))
    if found is not None and found not in (
        conversation.id,
        *sms_alternative.linked_ids(session, conversation),
    ):
        raise CardError("Formulário inválido: recarregue a página.")
    return found is not None


_CONFIRM = (
    "Fora do horário permitido para contato de cobrança, e a pessoa não escreveu agora há pouco. "
    "Confirme que deseja enviar assim mesmo."
)


def _check_sendable(
    session: Session, settings: Settings, conversation: Conversation, submit: Submit, by_sms: bool
) -> Conversation:
    """Refuse (pt-BR) before anything changes when the debtor cannot be sent the action's messages now;
    else the conversation they go in (the debtor's SMS one for a segunda via by SMS, `by_sms`)."""
    if identity.trust(settings, conversation) != Trust.CONFIRMED:
        raise CardError(
            "Este número ainda não foi confirmado como da pessoa: dados da dívida não podem ser enviados."
        )
    rules = composer.rules(session, settings, conversation, utcnow())
    if rules.opted_out:
        raise CardError("Esta pessoa pediu para não receber mensagens neste canal: não é possível enviar.")
    if rules.free_text:
        if rules.needs_confirmation and not submit.confirmed:
            raise CardError(_CONFIRM)
        return conversation
    if by_sms and submit.via_sms and rules.sms:
        if rules.sms_needs_confirmation and not submit.confirmed:
            raise CardError(_CONFIRM)
        return sms_alternative.conversation_for(session, conversation.debtor)  # type: ignore[arg-type]
    raise CardError(
        "Fora da janela de 24 horas do WhatsApp: esta ação envia texto livre, que não seria entregue. "
        + ("Envie a segunda via por SMS, ou um " if by_sms and rules.sms else "Envie um ")
        + "modelo aprovado pelo campo de resposta; quando a pessoa responder, tente de novo."
    )


def _save(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    user: User,
    replies: list[Reply],
    submit: Submit,
    into: Conversation | None = None,
) -> None:
    """Save `replies` as the agent's pending messages (the first under the form's nonce) in `into`
    (default: `conversation`, the one the agent acts on), to be delivered after the commit."""
    rows = outgoing.save_replies(session, settings, into or conversation, replies)
    for index, row in enumerate(rows):
        row.sent_by_user_id = user.id
        row.client_nonce = submit.nonce if index == 0 else f"{submit.nonce}.{index}"
    session.flush()
    thread.touch(conversation, user)


def _prepare(
    session: Session, settings: Settings, conversation_id: int, user: User, submit: Submit
) -> tuple[Conversation, Debtor] | None:
    """Lock and check for an action that sends messages; None when this form was already done."""
    conversation, debtor = locked_conversation(session, conversation_id, user)
    if _already_done(session, conversation, submit):
        return None
    _check_sendable(session, settings, conversation, submit, by_sms=False)
    return conversation, debtor


def _charge(session: Session, debtor: Debtor, target: str, today: date, settings: Settings) -> charges.Charge:
    kind, _, ident = target.partition("-")
    provider = charges.provider_for(settings)
    if kind == "invoice" and ident.isdigit():
        invoice = session.get(Invoice, int(ident))
        if invoice is not None and invoice.debtor_id == debtor.id and invoice.status == InvoiceStatus.OPEN:
            if invoice.on_hold:
                raise CardError(
                    "Esta fatura está em análise ou contestada: não há segunda via até a decisão."
                )
            return charges.for_invoice(invoice, today, provider)
    if kind == "instalment" and ident.isdigit():
        instalment = session.get(Instalment, int(ident))
        agreement = instalment.agreement if instalment is not None else None
        if (
            instalment is not None
            and agreement is not None
            and agreement.debtor_id == debtor.id
            and agreement.status == AgreementStatus.ACTIVE
            and agreement.pause_reason is None
            and instalment.status == InstalmentStatus.OPEN
        ):
            return charges.for_instalment(instalment, provider)
    raise CardError("Esta cobrança não está mais em aberto: recarregue a página.")


def send_copy(
    session: Session, settings: Settings, conversation_id: int, user: User, submit: Submit, target: str
) -> Done:
    """Send the segunda via of `target` ("invoice-<id>" or "instalment-<id>"); outside WhatsApp's window,
    by SMS when the form asks (`submit.via_sms`) and the debtor may get one."""
    conversation, debtor = locked_conversation(session, conversation_id, user)
    if _already_done(session, conversation, submit):
        return _AGAIN
    into = _check_sendable(session, settings, conversation, submit, by_sms=True)
    today = debtor_today(debtor, utcnow())
    charge = _charge(session, debtor, target, today, settings)
    replies = charge_replies(session, settings, charge, into.channel, today, title=texts.CHARGE_TITLE_COPY)
    if into is not conversation:
        replies = sms_alternative.charge(settings, replies)
    _save(session, settings, conversation, user, replies, submit, into)
    audit.record(
        session, actor(user), "card.copy_sent", "conversation", conversation.id,
        charge=charge.reference, channel=Channel(into.channel).value,
    )  # fmt: skip
    if into is conversation:
        return Done("Segunda via enviada.", to_deliver=True)
    return Done("Segunda via enviada por SMS.", to_deliver=True, deliver_in=into.id)


def _send_terms(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    user: User,
    submit: Submit,
    offer: AgreementOffer,
    option: pricing.Option,
) -> None:
    """The debtor is asked to confirm `option`'s exact terms (the bot's own question after a pick)."""
    offers.choose(offer, option)
    creditor = session.get_one(Creditor, offer.creditor_id)
    reply = Reply(texts.confirm_agreement(offers.terms(option, creditor)))
    _save(session, settings, conversation, user, [reply], submit)


def _new_offer(
    session: Session, conversation: Conversation, debtor: Debtor
) -> tuple[AgreementOffer, Creditor, date]:
    """A new offer for the debtor's largest debt (older open ones expire), its creditor, and the debtor's
    today."""
    today = debtor_today(debtor, utcnow())
    made = offers.make_offer(session, conversation, today)
    if made is None:
        raise CardError("Não há dívida em aberto para negociar.")
    return made[0], made[1], today


def propose(
    session: Session, settings: Settings, conversation_id: int, user: User, submit: Submit, instalments: int
) -> Done:
    """Propose the policy's option of `instalments` (1 = à vista) for the debtor's largest debt."""
    prepared = _prepare(session, settings, conversation_id, user, submit)
    if prepared is None:
        return _AGAIN
    conversation, debtor = prepared
    offer, _, _ = _new_offer(session, conversation, debtor)
    option = next((o for o in offers.options_of(offer) if o.instalments == instalments), None)
    if option is None:
        raise CardError("Esta opção não está mais entre as da política do credor: recarregue a página.")
    _send_terms(session, settings, conversation, user, submit, offer, option)
    audit.record(
        session, actor(user), "card.agreement_proposed", "agreement_offer", offer.id,
        instalments=instalments, within_policy=True,
    )  # fmt: skip
    return Done("Proposta enviada. Quando a pessoa aceitar na conversa, registre o aceite.", to_deliver=True)


@dataclass(frozen=True)
class OwnTerms:
    """A supervisor's proposal outside the policy: instalments, a discount and the written reason."""

    instalments: int
    discount_percent: Decimal
    reason: str


def _own_option(
    session: Session, creditor_id: int, debt_cents: int, terms: OwnTerms, today: date
) -> pricing.Option:
    """The option for `terms`: the discount off the debt, then the creditor's interest and first due day,
    with no limit on the count (up to 60) or the instalment's size."""
    if not 1 <= terms.instalments <= 60:
        raise CardError("Escolha de 1 a 60 parcelas.")
    if not 0 <= terms.discount_percent <= MAX_DISCOUNT_PERCENT:
        raise CardError(f"O desconto vai de 0 a {MAX_DISCOUNT_PERCENT}%.")
    policy = pricing.policy_for(session, creditor_id)
    relaxed = AgreementPolicy(
        creditor_id=creditor_id,
        max_instalments=60,
        min_instalment_cents=1,
        monthly_interest_bps=policy.monthly_interest_bps,
        cash_discount_bps=0,
        min_down_payment_bps=0,
        first_due_days=policy.first_due_days,
    )
    discount = int((Decimal(debt_cents) * terms.discount_percent / 100).quantize(Decimal(1), ROUND_HALF_UP))
    option = pricing.plan(debt_cents - discount, terms.instalments, relaxed, today, 1)
    if option is None:
        raise CardError("Estas condições não fecham um parcelamento: revise o desconto e as parcelas.")
    return replace(option, discount_cents=discount)


def propose_outside(
    session: Session, settings: Settings, conversation_id: int, user: User, submit: Submit, terms: OwnTerms
) -> Done:
    """A supervisor proposes their own terms outside the creditor's policy, with a written reason
    (audited). Nobody else may."""
    require(user, Permission.OUT_OF_POLICY_OFFER)
    reason = " ".join(terms.reason.split())
    if len(reason) < REASON_MIN_CHARS:
        raise CardError("Escreva o motivo da proposta fora da política (fica no registro de auditoria).")
    prepared = _prepare(session, settings, conversation_id, user, submit)
    if prepared is None:
        return _AGAIN
    conversation, debtor = prepared
    offer, creditor, today = _new_offer(session, conversation, debtor)
    debt = offers.largest_debt(session, debtor.id, today)
    assert debt is not None
    option = _own_option(session, creditor.id, debt.total_cents, terms, today)
    offer.options = [asdict(option)]  # the offer holds only the supervisor's terms, not the policy's
    _send_terms(session, settings, conversation, user, submit, offer, option)
    audit.record(
        session, actor(user), "card.agreement_proposed", "agreement_offer", offer.id,
        instalments=option.instalments, discount_cents=option.discount_cents, total_cents=option.total_cents,
        within_policy=False, reason=reason[:500],
    )  # fmt: skip
    return Done("Proposta fora da política enviada, com o motivo registrado.", to_deliver=True)


def accept(
    session: Session, settings: Settings, conversation_id: int, user: User, submit: Submit, offer_id: int
) -> Done:
    """Register the debtor's yes to the proposal: the agreement is made (audited under the person) and
    the debtor gets it with the first instalment's charge."""
    prepared = _prepare(session, settings, conversation_id, user, submit)
    if prepared is None:
        return _AGAIN
    conversation, _ = prepared
    offer = offers.current_offer(session, conversation.id)
    if offer is None or offer.id != offer_id or offer.status != OfferStatus.CHOSEN:
        raise CardError("Esta proposta não está mais aguardando aceite (expirou, ou já foi registrada).")
    agreement = lifecycle.accept(session, offer, actor=actor(user))
    _save(
        session,
        settings,
        conversation,
        user,
        agreement_closed_replies(session, settings, conversation, agreement),
        submit,
    )
    return Done(f"Acordo {agreement.id} registrado.", to_deliver=True)


def record_promise(
    session: Session, settings: Settings, conversation_id: int, user: User, submit: Submit, promised_on: date
) -> Done:
    """Record the debtor's promise to pay on `promised_on` (within the creditor's policy) and send the
    confirmation with the charge for that day."""
    prepared = _prepare(session, settings, conversation_id, user, submit)
    if prepared is None:
        return _AGAIN
    conversation, debtor = prepared
    today = debtor_today(debtor, utcnow())
    result = promises.promise(session, conversation, today, promised_on, actor=actor(user))
    if result is None:
        raise CardError("Não há fatura em aberto para uma promessa de pagamento.")
    if result.in_the_past:
        raise CardError("Esta data já passou: escolha hoje ou uma data futura.")
    if result.latest is not None:
        raise CardError(f"A política do credor aceita promessa até {result.latest:%d/%m/%Y}.")
    _save(
        session,
        settings,
        conversation,
        user,
        promise_replies(session, settings, conversation, result, today),
        submit,
    )
    return Done(f"Promessa de pagamento para {promised_on:%d/%m/%Y} registrada.", to_deliver=True)
