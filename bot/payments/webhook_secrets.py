"""Per-creditor secrets of the payment confirmation webhook: issuing, rotating, and checking them.

A creditor (or its PSP) signs its confirmations with its own secret and names itself in the
`X-Regua-Creditor: <cnpj>` header; the body is accepted when it is signed with the creditor's current
secret or, during a rotation, the previous one. A request so signed confirms that creditor's charges
only: a confirmation without `creditor_cnpj` is read as the signer's, one naming another creditor makes
the whole request refused.

The global `PAYMENT_WEBHOOK_SECRET` remains a fallback for creditors without a secret of their own:
a request signed with it (with or without the header) is refused when any of its confirmations names,
or by its reference could reach, a creditor that has one. So issuing a creditor its own secret takes
the global secret's power over that creditor away.

Secrets are `secrets.token_urlsafe(48)` (384 bits), stored as issued (HMAC verification needs the key)
and shown once, by `regua creditor webhook-secret`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot import audit
from bot.agreements.references import parse_instalment_reference
from bot.documents import InvalidDocument, normalize_cnpj
from bot.models import Agreement, Creditor, Invoice, utcnow
from bot.payments.providers import Confirmation, PaymentProvider, signed_with
from bot.payments.setup import InvalidSetting

CREDITOR_HEADER = "X-Regua-Creditor"


def issue(session: Session, creditor: Creditor, *, rotate: bool, actor: str) -> str:
    """Give `creditor` a new webhook secret and return it (the only time it is shown).

    With `rotate`, the current secret becomes the previous one, still accepted until
    `drop_previous`; without it, a creditor that already has a secret is refused (`InvalidSetting`)."""
    current = creditor.payment_webhook_secret
    if current and not rotate:
        raise InvalidSetting("o credor já tem um segredo de webhook; use --rotate para trocá-lo")
    if not current and rotate:
        raise InvalidSetting("o credor ainda não tem um segredo de webhook; crie um sem --rotate")
    secret = secrets.token_urlsafe(48)
    creditor.payment_webhook_secret_previous = current
    creditor.payment_webhook_secret = secret
    creditor.payment_webhook_secret_rotated_at = utcnow()
    action = "creditor.webhook_secret.rotated" if rotate else "creditor.webhook_secret.created"
    audit.record(session, actor, action, "creditor", creditor.id)
    return secret


def drop_previous(session: Session, creditor: Creditor, *, actor: str) -> bool:
    """Stop accepting the creditor's previous secret (ends a rotation). False if there was none."""
    if not creditor.payment_webhook_secret_previous:
        return False
    creditor.payment_webhook_secret_previous = None
    audit.record(session, actor, "creditor.webhook_secret.previous_dropped", "creditor", creditor.id)
    return True


@dataclass(frozen=True)
class Signer:
    """Who signed a webhook request: one creditor (`cnpj`), or the global secret (`cnpj` None)."""

    cnpj: str | None


def authenticate(
    session: Session, provider: PaymentProvider, body: bytes, signature: str | None, creditor: str | None
) -> Signer | None:
    """The signer of `body`, or None when the signature is not valid for the claimed signer.

    `creditor` is the `X-Regua-Creditor` header: a creditor with its own secret is checked against its
    current and previous secrets only; without the header, or for a creditor without a secret of its
    own, the provider's global secret applies."""
    if not creditor:
        return Signer(None) if provider.verify(body, signature) else None
    try:
        cnpj = normalize_cnpj(creditor)
    except InvalidDocument:
        return None
    row = session.execute(
        select(Creditor.payment_webhook_secret, Creditor.payment_webhook_secret_previous).where(
            Creditor.cnpj == cnpj
        )
    ).first()
    if row is None:
        return None
    keys = [key for key in row if key]
    if not keys:  # the fallback: a creditor without its own secret is confirmed with the global one
        return Signer(cnpj) if provider.verify(body, signature) else None
    # Every key is tried (no early exit), so the time taken does not tell which one matched.
    matches = [signed_with(key, body, signature) for key in keys]
    return Signer(cnpj) if any(matches) else None


def bind(session: Session, signer: Signer, items: Sequence[Confirmation]) -> list[Confirmation] | None:
    """The confirmations as the signer may send them, or None when one reaches beyond the signer.

    A creditor's confirmations are bound to it (a missing `creditor_cnpj` becomes its CNPJ, so the
    reference is only looked up among its charges); the global secret may not reach a creditor that
    has its own secret."""
    if signer.cnpj is not None:
        bound = []
        for item in items:
            if item.creditor_cnpj is None:
                bound.append(replace(item, creditor_cnpj=signer.cnpj))
            elif _digits(item.creditor_cnpj) == signer.cnpj:
                bound.append(item)
            else:
                return None
        return bound
    for item in items:
        reached = _reachable_creditors(item)
        with_own = session.scalar(
            select(func.count())
            .select_from(Creditor)
            .where(Creditor.id.in_(reached), Creditor.payment_webhook_secret.is_not(None))
        )
        if with_own:
            return None
    return list(items)


def _digits(cnpj: str) -> str | None:
    try:
        return normalize_cnpj(cnpj)
    except InvalidDocument:
        return None


def _reachable_creditors(item: Confirmation) -> Select[tuple[int]]:
    """The ids of the creditors whose charges this confirmation could be applied to."""
    if item.creditor_cnpj:
        return select(Creditor.id).where(Creditor.cnpj == _digits(item.creditor_cnpj))
    instalment = parse_instalment_reference(item.reference)
    if instalment is not None:
        return select(Agreement.creditor_id).where(Agreement.id == instalment[0])
    return select(Invoice.creditor_id).where(Invoice.external_ref == item.reference)
