"""Payment providers: who issues a charge's instruments and who confirms that it was paid.

A provider implements `PaymentProvider`. The default provider (`default`) needs no PSP account:
* Pix: a static BR Code for the exact amount due, on the creditor's own Pix key (`creditors.pix_key`),
  with the charge's reference as txid; without a key, the Pix code imported with the invoice is used.
* Boleto: the linha digitável imported with the invoice (the creditor's bank issued it). For agreement
  instalments, a boleto under the creditor's bank and convênio (`boleto_bank_code`, `boleto_agreement`,
  Banco do Brasil's 7-digit convênio layout) when configured; the bank must have it registered (CNAB).
* Confirmations: `POST /webhooks/payments/default` with a JSON body signed with HMAC-SHA256 of the raw
  body, in the `X-Regua-Signature: sha256=<hex>` header, under the creditor's own secret (named by
  `X-Regua-Creditor: <cnpj>`, see `bot.payments.webhook_secrets`) or the global `PAYMENT_WEBHOOK_SECRET`:
  `{"id": "evt-1", "reference": "F-123" | "A12P1", "creditor_cnpj": "...", "amount_cents": 15990,
    "paid_at": "2026-11-23T10:00:00-03:00"}` or `{"payments": [<that>, ...]}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.config import Settings
from bot.models import Creditor, Instalment
from bot.payments import boleto, pix

SIGNATURE_HEADER = "X-Regua-Signature"

# What a confirmation may carry (issue 14 §6): anything else is refused with a 400, nothing stored.
# The payment id is matched exactly and never cut (two ids cut to one would hide a payment); it must fit
# `payments.external_id`. The largest amount is what a Pix code can carry (R$ 9.999.999.999,99), far
# below the BIGINT column.
MAX_EXTERNAL_ID = 100
MAX_AMOUNT_CENTS = 999_999_999_999


class InvalidConfirmation(ValueError):
    """A confirmation body that cannot be read or stored; the message (pt-BR) says what is wrong."""


@dataclass(frozen=True)
class Confirmation:
    """A provider says: this charge was paid."""

    external_id: str
    reference: str
    creditor_cnpj: str | None
    amount_cents: int
    paid_at: datetime


class PaymentProvider(Protocol):
    """Issues instruments and reads payment confirmations."""

    name: str

    def pix_code(self, creditor: Creditor, amount_cents: int, reference: str) -> str | None:
        """A Pix code for `amount_cents` (None when this provider cannot issue one for the creditor)."""
        ...

    def instalment_boleto(self, creditor: Creditor, instalment: Instalment) -> str | None:
        """A linha digitável for an instalment, or None."""
        ...

    def verify(self, body: bytes, signature: str | None) -> bool:
        """True when the webhook body is authentic."""
        ...

    def confirmations(self, body: bytes) -> list[Confirmation]:
        """The confirmations in a webhook body; raises `InvalidConfirmation`."""
        ...


def _txid(reference: str) -> str:
    return "".join(c for c in reference if c.isalnum())[:25] or "***"


class DefaultProvider:
    """The creditor's own Pix key and bank boletos; confirmations signed with a shared secret."""

    name = "default"

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.payment_webhook_secret

    def pix_code(self, creditor: Creditor, amount_cents: int, reference: str) -> str | None:
        """A static BR Code on the creditor's key for the amount."""
        if not creditor.pix_key:
            return None
        return pix.build_brcode(
            creditor.pix_key,
            creditor.display_name,
            creditor.city or "BRASIL",
            amount_cents=amount_cents,
            txid=_txid(reference),
        )

    def instalment_boleto(self, creditor: Creditor, instalment: Instalment) -> str | None:
        """A bank boleto under the creditor's convênio: 000000 + convênio (7) + nosso número (10) + "17"."""
        if not (creditor.boleto_bank_code and creditor.boleto_agreement):
            return None
        our_number = f"{instalment.id:010d}"[-10:]
        free_field = f"000000{creditor.boleto_agreement:0>7}{our_number}17"
        built = boleto.build(
            creditor.boleto_bank_code, instalment.amount_cents, instalment.due_date, free_field
        )
        return built.linha_digitavel

    def verify(self, body: bytes, signature: str | None) -> bool:
        """HMAC-SHA256 of the raw body with PAYMENT_WEBHOOK_SECRET; no secret configured: nothing passes."""
        return signed_with(self.secret, body, signature)

    def confirmations(self, body: bytes) -> list[Confirmation]:
        """Read `{"id", "reference", "creditor_cnpj", "amount_cents", "paid_at"}` (or a list of them)."""
        try:
            document = json.loads(body)
        except ValueError:
            raise InvalidConfirmation("o corpo não é JSON") from None
        items = (
            document.get("payments") if isinstance(document, dict) and "payments" in document else [document]
        )
        if not isinstance(items, list) or not items:
            raise InvalidConfirmation("nenhum pagamento no corpo")
        return [_confirmation(item) for item in items]


def _confirmation(item: object) -> Confirmation:
    if not isinstance(item, dict):
        raise InvalidConfirmation("cada pagamento deve ser um objeto")
    missing = [k for k in ("id", "reference", "amount_cents", "paid_at") if item.get(k) in (None, "")]
    if missing:
        raise InvalidConfirmation(f"faltam os campos {', '.join(missing)}")
    external_id = item["id"]
    if isinstance(external_id, bool) or not isinstance(external_id, str | int):
        raise InvalidConfirmation("id deve ser um texto")
    external_id = str(external_id)
    if len(external_id) > MAX_EXTERNAL_ID:
        raise InvalidConfirmation(f"id tem {len(external_id)} caracteres; o máximo é {MAX_EXTERNAL_ID}")
    amount = item["amount_cents"]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT_CENTS:
        raise InvalidConfirmation(
            f"amount_cents deve ser um número inteiro de centavos, de 1 a {MAX_AMOUNT_CENTS}"
        )
    try:
        paid_at = datetime.fromisoformat(str(item["paid_at"]))
    except ValueError:
        raise InvalidConfirmation("paid_at deve ser uma data e hora ISO 8601") from None
    if paid_at.tzinfo is None:
        raise InvalidConfirmation("paid_at deve trazer o fuso horário")
    return Confirmation(
        external_id=external_id,
        reference=str(item["reference"]).strip(),
        creditor_cnpj=str(item["creditor_cnpj"]) if item.get("creditor_cnpj") else None,
        amount_cents=amount,
        paid_at=paid_at.astimezone(UTC),  # stored in UTC, like every timestamp
    )


def signed_with(secret: str | None, body: bytes, signature: str | None) -> bool:
    """True when `signature` ("sha256=<hex>") is the HMAC-SHA256 of `body` under `secret` (never for
    a missing secret), compared in constant time."""
    if not secret or not signature or not signature.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body` (what a provider sends; used by tests and tools)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def get_provider(settings: Settings, name: str) -> PaymentProvider | None:
    """The provider registered under `name`, or None."""
    return {"default": DefaultProvider}.get(name, lambda _s: None)(settings)  # type: ignore[return-value]
