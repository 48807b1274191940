"""A creditor's payment settings (Pix key, boleto convênio, late-payment rules) and agreement policy.

Validated here, with errors that say what is wrong, because these numbers reach debtors: the fine may
not exceed 2 % (CDC art. 52 §1) and late interest 1 % a month (CC art. 406 with CTN art. 161 §1), and
a policy can only offer what the database constraints allow.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.documents import InvalidDocument, is_valid_cnpj, is_valid_cpf, normalize_cnpj
from bot.models import AgreementPolicy, Creditor

MAX_FINE_BPS = 200
MAX_MONTHLY_INTEREST_BPS = 100
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PHONE_KEY = re.compile(r"\+55\d{10,11}")


class InvalidSetting(ValueError):
    """A payment setting or policy value that cannot be used; the message (pt-BR) says why."""


def valid_pix_key(key: str) -> bool:
    """A Pix key in one of the DICT formats: CPF, CNPJ, e-mail, +55 phone or random key (EVP)."""
    key = key.strip()
    if key.isdigit() and len(key) == 11:
        return is_valid_cpf(key)
    if key.isdigit() and len(key) == 14:
        return is_valid_cnpj(key)
    return bool(_EMAIL.fullmatch(key) or _EVP.fullmatch(key.lower()) or _PHONE_KEY.fullmatch(key))


def find_creditor(session: Session, cnpj: str) -> Creditor:
    """The creditor with this CNPJ, or `InvalidSetting`."""
    try:
        digits = normalize_cnpj(cnpj)
    except InvalidDocument:
        raise InvalidSetting(f"CNPJ inválido: {cnpj}") from None
    creditor = session.scalar(select(Creditor).where(Creditor.cnpj == digits))
    if creditor is None:
        raise InvalidSetting(f"nenhum credor com o CNPJ {cnpj}; cadastre com 'regua creditor add'")
    return creditor


def configure_payments(session: Session, creditor: Creditor, *, actor: str, **values: Any) -> dict[str, Any]:
    """Set the given payment settings (pix_key, city, boleto_bank_code, boleto_agreement, fine_bps,
    monthly_interest_bps, claim_pause_days); returns what changed."""
    if (key := values.get("pix_key")) is not None and not valid_pix_key(key):
        raise InvalidSetting("chave Pix inválida: use CPF, CNPJ, e-mail, telefone +55... ou chave aleatória")
    if (bank := values.get("boleto_bank_code")) is not None and not re.fullmatch(r"\d{3}", bank):
        raise InvalidSetting("código do banco deve ter 3 dígitos, ex.: 001")
    if (agreement := values.get("boleto_agreement")) is not None and not re.fullmatch(r"\d{1,7}", agreement):
        raise InvalidSetting("convênio deve ter até 7 dígitos")
    if (fine := values.get("fine_bps")) is not None and not 0 <= fine <= MAX_FINE_BPS:
        raise InvalidSetting("a multa vai de 0 a 2% (200 pontos-base): CDC art. 52 §1")
    if (
        interest := values.get("monthly_interest_bps")
    ) is not None and not 0 <= interest <= MAX_MONTHLY_INTEREST_BPS:
        raise InvalidSetting("os juros de mora vão de 0 a 1% ao mês (100 pontos-base)")
    if (days := values.get("claim_pause_days")) is not None and not 1 <= days <= 30:
        raise InvalidSetting("a pausa após 'já paguei' vai de 1 a 30 dias")
    changed = {k: v for k, v in values.items() if v is not None and getattr(creditor, k) != v}
    for name, value in changed.items():
        setattr(creditor, name, value)
    if changed:
        audit.record(
            session,
            actor,
            "creditor.payments_configured",
            "creditor",
            creditor.id,
            **{k: ("***" if k == "pix_key" else v) for k, v in changed.items()},
        )
    return changed


_POLICY_LIMITS = {
    "max_instalments": (1, 60, "o número máximo de parcelas vai de 1 a 60"),
    "min_instalment_cents": (100, 10**9, "a parcela mínima deve ser de pelo menos R$ 1,00"),
    "monthly_interest_bps": (0, 1000, "os juros do parcelamento vão de 0 a 10% ao mês"),
    "cash_discount_bps": (0, 9000, "o desconto à vista vai de 0 a 90%"),
    "min_down_payment_bps": (0, 10000, "a entrada mínima vai de 0 a 100%"),
    "first_due_days": (0, 30, "o primeiro vencimento vai de 0 a 30 dias"),
    "break_after_days": (1, 120, "a quebra do acordo vai de 1 a 120 dias de atraso"),
    "max_promise_days": (0, 60, "a promessa de pagamento vai de 0 a 60 dias"),
}


def configure_policy(session: Session, creditor: Creditor, *, actor: str, **values: Any) -> AgreementPolicy:
    """Create or update the creditor's agreement policy with the given values (others keep theirs)."""
    for name, value in values.items():
        if value is None:
            continue
        low, high, message = _POLICY_LIMITS[name]
        if not low <= value <= high:
            raise InvalidSetting(message)
    policy = session.scalar(select(AgreementPolicy).where(AgreementPolicy.creditor_id == creditor.id))
    if policy is None:
        from bot.agreements.pricing import DEFAULT_POLICY

        policy = AgreementPolicy(creditor_id=creditor.id, **DEFAULT_POLICY)
        session.add(policy)
    for name, value in values.items():
        if value is not None:
            setattr(policy, name, value)
    audit.record(
        session,
        actor,
        "creditor.policy_configured",
        "creditor",
        creditor.id,
        **{k: v for k, v in values.items() if v is not None},
    )
    session.flush()
    return policy
