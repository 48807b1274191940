"""Cell parsers for import files: each turns spreadsheet text into a value or raises `CellError`.

`CellError` messages are Brazilian Portuguese for the operator and never contain a full CPF. They wrap the
shared primitives (`bot.documents`, `bot.phones`, `bot.money`), whose own messages are English and for
developers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from bot.documents import InvalidDocument, format_cnpj, mask_cpf, normalize_cnpj, normalize_cpf
from bot.localtime import DEFAULT_ZONE
from bot.models import InvoiceStatus
from bot.money import InvalidAmount, parse_amount
from bot.phones import (
    DDD_TIMEZONE,
    DDD_TO_UF,
    UF_TIMEZONE,
    InvalidPhone,
    is_mobile,
    normalize_phone,
    state_for_phone,
    timezone_for_phone,
)
from bot.text_folding import fold_accents

__all__ = [
    "BRAZIL_TZ",
    "UF_NAMES",
    "CellError",
    "display_cnpj",
    "masked",
    "parse_cnpj",
    "parse_consent",
    "parse_cpf",
    "parse_date",
    "parse_email",
    "parse_phone",
    "parse_status",
    "parse_uf",
    "parse_value",
    "phone_region",
]

BRAZIL_TZ = DEFAULT_ZONE

_SCIENTIFIC = re.compile(r"^[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+$")
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")
_DATE_BR = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)

_YES = {"sim", "s", "yes", "y", "true", "verdadeiro", "1", "x", "ok", "autorizado", "optin", "opt in"}
_NO = {"nao", "não", "n", "no", "false", "falso", "0", "recusado"}

_STATUS = {
    InvoiceStatus.OPEN: {"aberta", "aberto", "em aberto", "emaberto", "pendente", "a vencer", "vencida",
                         "vencido", "open", "pending", "overdue", "unpaid"},
    InvoiceStatus.PAID: {"paga", "pago", "liquidada", "liquidado", "quitada", "quitado",
                         "baixada por pagamento", "paid", "settled"},
    InvoiceStatus.CANCELLED: {"cancelada", "cancelado", "canceled", "cancelled", "void", "estornada"},
}  # fmt: skip
_STATUS_LOOKUP = {text: status for status, texts in _STATUS.items() for text in texts}

UF_NAMES = {
    "acre": "AC", "alagoas": "AL", "amapa": "AP", "amazonas": "AM", "bahia": "BA", "ceara": "CE",
    "distrito federal": "DF", "espirito santo": "ES", "goias": "GO", "maranhao": "MA", "mato grosso": "MT",
    "mato grosso do sul": "MS", "minas gerais": "MG", "para": "PA", "paraiba": "PB", "parana": "PR",
    "pernambuco": "PE", "piaui": "PI", "rio de janeiro": "RJ", "rio grande do norte": "RN",
    "rio grande do sul": "RS", "rondonia": "RO", "roraima": "RR", "santa catarina": "SC", "sao paulo": "SP",
    "sergipe": "SE", "tocantins": "TO",
}  # fmt: skip

_PHONE_REASONS = (
    ("empty", "vazio"),
    ("too short", "curto demais"),
    ("too long", "longo demais"),
    ("wrong number of digits", "número de dígitos errado"),
    ("unknown Brazilian area code", "DDD inexistente"),
    ("no phone number found", "não é um número de telefone"),
    ("extension", "ramais não são aceitos"),
    ("country calling code", "código de país desconhecido"),
)


class CellError(ValueError):
    """A cell's value is not acceptable; the message is the operator-facing Portuguese reason."""


def masked(cpf: str) -> str:
    """The masked form of a normalized CPF, the only form that may appear in a report."""
    return mask_cpf(cpf)


def _plain(text: str) -> str:
    """Folded for matching words: lower case, no accents, "_" and "-" as spaces, spaces collapsed.

    Other punctuation is kept, so "quitada?" is not taken for "quitada".
    """
    plain = fold_accents(text).lower()
    return " ".join(re.sub(r"[_-]", " ", plain).split())


def _scientific_hint(raw: str, what: str) -> None:
    if _SCIENTIFIC.match(raw):
        raise CellError(
            f"{what} em notação científica ({raw!r}): a planilha tratou a coluna como número; "
            "formate-a como texto e exporte de novo"
        )


def parse_cpf(raw: str, what: str = "CPF") -> str:
    """The 11 digits of a valid CPF, or `CellError` with the reason (never the value)."""
    if not raw:
        raise CellError(f"{what} vazio")
    _scientific_hint(raw, what)
    try:
        return normalize_cpf(raw)
    except InvalidDocument:
        pass
    if not re.fullmatch(r"[0-9.\-\s]+", raw):
        raise CellError(f"{what} inválido (use só dígitos, pontos e hífen)")
    digits = re.sub(r"\D", "", raw)
    if len(digits) != 11:
        if len(digits) in (9, 10) and raw.isdigit():
            raise CellError(f"{what} inválido (tem {len(digits)} dígitos; completado com zeros não confere)")
        raise CellError(f"{what} inválido (deve ter 11 dígitos, tem {len(digits)})")
    if len(set(digits)) == 1:
        raise CellError(f"{what} inválido (todos os dígitos iguais)")
    raise CellError(f"{what} inválido (dígitos verificadores não conferem)")


def parse_cnpj(raw: str, what: str = "CNPJ") -> str:
    """The 14 characters of a valid CNPJ, or `CellError`."""
    if not raw:
        raise CellError(f"{what} vazio")
    _scientific_hint(raw, what)
    try:
        return normalize_cnpj(raw)
    except InvalidDocument:
        pass
    chars = re.sub(r"[^0-9A-Za-z]", "", raw)
    if not re.fullmatch(r"[0-9A-Za-z./\-\s]+", raw):
        raise CellError(f"{what} inválido (use só letras, dígitos, '.', '/' e '-')")
    if len(chars) != 14:
        raise CellError(f"{what} inválido (deve ter 14 caracteres, tem {len(chars)})")
    raise CellError(f"{what} inválido (dígitos verificadores não conferem)")


def display_cnpj(cnpj: str) -> str:
    """A normalized CNPJ with its usual punctuation."""
    try:
        return format_cnpj(cnpj)
    except InvalidDocument:
        return cnpj


def parse_phone(raw: str, what: str = "telefone") -> tuple[str, bool]:
    """(E.164 with the 9th digit, is mobile), or `CellError` with a Portuguese reason."""
    if not raw:
        raise CellError(f"{what} vazio")
    _scientific_hint(raw, what)
    try:
        e164 = normalize_phone(raw)
    except InvalidPhone as error:
        message = str(error)
        reason = next((pt for en, pt in _PHONE_REASONS if en in message), None)
        if reason == "DDD inexistente":
            ddd = re.search(r"\b(\d{2})$", message)
            reason = f"DDD {ddd.group(1)} inexistente" if ddd else reason
        raise CellError(f"{what} inválido ({reason})" if reason else f"{what} inválido") from None
    return e164, _is_br_mobile(e164) or is_mobile(e164)


def _is_br_mobile(e164: str) -> bool:
    """Fast path for a *valid* canonical number: in Brazil, 11 national digits means a mobile (DDD + 9 +
    8 digits). Saves `bot.phones` parsing the number again for 100,000-row files."""
    return len(e164) == 14 and e164.startswith("+55") and e164[5] == "9"


def phone_region(e164: str) -> tuple[str | None, str]:
    """(UF, IANA zone) of a valid canonical number, from the `bot.phones` DDD tables.

    Same answer as `state_for_phone` / `timezone_for_phone`, without parsing the number again when it is
    a Brazilian mobile (the DDD is then simply digits 3-4 of the national number).
    """
    if _is_br_mobile(e164):
        code = int(e164[3:5])
        if code in DDD_TO_UF:
            return DDD_TO_UF[code], DDD_TIMEZONE[code]
    return state_for_phone(e164), timezone_for_phone(e164)


def parse_email(raw: str) -> str | None:
    """A plausible e-mail address (stripped) or None for an empty cell."""
    if not raw:
        return None
    if len(raw) > 254 or not _EMAIL.match(raw):
        raise CellError("e-mail inválido")
    return raw


def parse_uf(raw: str) -> str | None:
    """A state code (UF) from "SP", "sp" or "São Paulo"; None for an empty cell."""
    if not raw:
        return None
    code = raw.strip().upper()
    if code in UF_TIMEZONE:
        return code
    by_name = UF_NAMES.get(_plain(raw))
    if by_name:
        return by_name
    raise CellError(f"UF inválida {raw!r} (use a sigla do estado, como SP ou RJ)")


def parse_date(raw: str, what: str) -> date:
    """A date written dd/mm/aaaa (also with '-' or '.', two-digit years as 20aa) or aaaa-mm-dd.

    A time part, as some exports add ("31/01/2025 00:00:00"), is ignored.
    """
    if not raw:
        raise CellError(f"{what} vazio")
    match = _DATE_BR.match(raw)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            if year < 100:
                year += 2000
            value = date(year, month, day)
        elif _DATE_ISO.match(raw):
            y, m, d = _DATE_ISO.match(raw).groups()  # type: ignore[union-attr]
            value = date(int(y), int(m), int(d))
        else:
            raise CellError(f"{what} inválido {raw!r} (use dd/mm/aaaa)")
    except ValueError as error:
        if isinstance(error, CellError):
            raise
        raise CellError(f"{what} inválido {raw!r} (data inexistente)") from None
    if not 1900 <= value.year <= 2199:
        raise CellError(f"{what} inválido {raw!r} (ano fora do intervalo)")
    return value


def parse_consent(raw: str, now: datetime, what: str = "consentimento") -> datetime | bool | None:
    """Consent cell: a date (when consent was given, as a UTC datetime at 00:00 Brasília), True for "sim"
    (given, date unknown), False for "não", None for an empty cell."""
    if not raw:
        return None
    word = _plain(raw)
    if word in _YES:
        return True
    if word in _NO:
        return False
    try:
        day = parse_date(raw, what)
    except CellError:
        raise CellError(f"{what} inválido {raw!r} (use sim, não ou a data dd/mm/aaaa)") from None
    moment = datetime.combine(day, time(0, 0), tzinfo=BRAZIL_TZ).astimezone(UTC)
    if moment > now:
        raise CellError(f"{what} com data no futuro ({day:%d/%m/%Y})")
    return moment


def parse_value(raw: str) -> int:
    """An amount in centavos, greater than zero."""
    if not raw:
        raise CellError("valor vazio")
    _scientific_hint(raw, "valor")
    try:
        cents = parse_amount(raw, allow_negative=True)
    except InvalidAmount as error:
        if "more than 2 decimal places" in str(error):
            raise CellError(f"valor inválido {raw!r} (mais de duas casas decimais)") from None
        raise CellError(f"valor inválido {raw!r}") from None
    if cents <= 0:
        raise CellError(f"valor deve ser maior que zero (recebido {raw!r})")
    return cents


def parse_status(raw: str) -> InvoiceStatus | None:
    """An invoice status from Portuguese or English words; None for an empty cell."""
    if not raw:
        return None
    status = _STATUS_LOOKUP.get(raw.lower()) or _STATUS_LOOKUP.get(_plain(raw))
    if status is None:
        raise CellError(f"status desconhecido {raw!r} (use aberta, paga ou cancelada)")
    return status
