"""Payment-page links (`/p/<token>`) and signed image URLs (`/m/<token>.png`) for chat media.

A payment link is a row with a random, unguessable token (`secrets.token_urlsafe`, 192 bits) and an
expiry (`PAYMENT_LINK_DAYS`); every opening of the page is recorded as a `PaymentLinkView`, the
engagement signal for the metrics (bot.analytics), and so is every press of the page's copy buttons (a
`PaymentPageEvent`, `record_copy`). Chat images (the Pix QR code, the boleto barcode) are served at
URLs signed (itsdangerous) with the media keys, `MEDIA_SIGNING_KEYS` (never SECRET_KEY: one secret per
purpose), that expire after `MEDIA_URL_HOURS`, so WhatsApp can fetch them without a login and nobody can
enumerate other debtors' codes. The first key signs and every key verifies: a rotation prepends a new
key and drops the old one once its last URLs have expired.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.models import (
    Instalment,
    Invoice,
    PageEvent,
    PaymentLink,
    PaymentLinkView,
    PaymentPageEvent,
    as_utc,
    utcnow,
)

MEDIA_SALT = "regua-payment-media"
MEDIA_KINDS = ("pix", "boleto")


def link_for(
    session: Session,
    settings: Settings,
    *,
    invoice: Invoice | None = None,
    instalment: Instalment | None = None,
) -> PaymentLink:
    """A valid link to the payment page of `invoice` or `instalment`: an existing one with at least half
    its life left, or a new one."""
    if (invoice is None) == (instalment is None):
        raise ValueError("a payment link is for one invoice or one instalment")
    now = utcnow()
    ttl = timedelta(days=settings.payment_link_days)
    column, target = (
        (PaymentLink.invoice_id, invoice) if invoice is not None else (PaymentLink.instalment_id, instalment)
    )
    assert target is not None
    existing = session.scalar(
        select(PaymentLink)
        .where(column == target.id, PaymentLink.expires_at > now + ttl / 2)
        .order_by(PaymentLink.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing
    link = PaymentLink(
        token=secrets.token_urlsafe(24),
        invoice_id=invoice.id if invoice is not None else None,
        instalment_id=instalment.id if instalment is not None else None,
        expires_at=now + ttl,
    )
    session.add(link)
    session.flush()
    return link


def page_url(settings: Settings, link: PaymentLink) -> str:
    """The public URL of the link's payment page."""
    return f"{settings.public_base_url}/p/{link.token}"


@dataclass(frozen=True)
class Opened:
    """A payment link looked up by token."""

    link: PaymentLink
    expired: bool


def open_link(session: Session, token: str, user_agent: str | None) -> Opened | None:
    """The link with this token (None if there is none); a view is recorded unless it expired."""
    link = session.scalar(select(PaymentLink).where(PaymentLink.token == token))
    if link is None:
        return None
    now = utcnow()
    expired = as_utc(link.expires_at) <= now  # type: ignore[operator]
    if not expired:
        session.add(
            PaymentLinkView(link_id=link.id, opened_at=now, user_agent=(user_agent or "")[:200] or None)
        )
    return Opened(link, expired)


# A page left open and pressed again and again, or a script, stops adding rows here: the metrics only ask
# whether a code was copied, and the table stays small.
MAX_COPY_EVENTS = 20


def record_copy(session: Session, token: str, kind: PageEvent) -> bool:
    """Record that the page of `token` had its Pix code or linha digitável copied. False (nothing stored)
    for an unknown or expired link, or once the link has MAX_COPY_EVENTS events of that kind."""
    link = session.scalar(select(PaymentLink).where(PaymentLink.token == token))
    now = utcnow()
    if link is None or as_utc(link.expires_at) <= now:  # type: ignore[operator]
        return False
    stored = session.scalar(
        select(func.count())
        .select_from(PaymentPageEvent)
        .where(PaymentPageEvent.link_id == link.id, PaymentPageEvent.kind == kind)
    )
    if (stored or 0) >= MAX_COPY_EVENTS:
        return False
    session.add(PaymentPageEvent(link_id=link.id, kind=kind, occurred_at=now))
    return True


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key of the list and verifies with any: oldest first.
    return URLSafeTimedSerializer(list(reversed(settings.media_keys)), salt=MEDIA_SALT)


def media_url(
    settings: Settings, kind: str, *, invoice_id: int | None = None, instalment_id: int | None = None
) -> str:
    """A signed, expiring URL of the Pix QR code ("pix") or boleto barcode ("boleto") image."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"unknown media kind {kind!r}")
    target = ("i", invoice_id) if invoice_id is not None else ("p", instalment_id)
    token = _serializer(settings).dumps([kind, *target])
    return f"{settings.public_base_url}/m/{token}.png"


class InvalidMediaToken(ValueError):
    """A media URL that was tampered with or has expired."""


def read_media_token(settings: Settings, token: str) -> tuple[str, str, int]:
    """(kind, "invoice" | "instalment", id) of a media token; raises `InvalidMediaToken`."""
    try:
        kind, target, ident = _serializer(settings).loads(token, max_age=settings.media_url_hours * 3600)
    except SignatureExpired:
        raise InvalidMediaToken("expired") from None
    except (BadSignature, ValueError, TypeError):
        raise InvalidMediaToken("bad signature") from None
    if kind not in MEDIA_KINDS or target not in ("i", "p") or not isinstance(ident, int):
        raise InvalidMediaToken("malformed")
    return kind, "invoice" if target == "i" else "instalment", ident
