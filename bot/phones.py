"""Phone numbers: parsing to E.164, Twilio addresses, the Brazilian "9th digit", DDD, state and time zone.

Parsing and validation are done by `phonenumbers` (Google's libphonenumber metadata). Régua adds two
Brazil-specific rules on top:

* The 9th digit. Between 2012 and 2016 ANATEL prefixed every Brazilian mobile number with a 9
  ("(11) 8765-4321" became "(11) 98765-4321"). WhatsApp accounts created before that kept their old
  id, so the WaId Twilio sends may lack the 9 ("551187654321"), and old spreadsheets have the 8-digit form
  too. A Brazilian number whose subscriber part has 8 digits starting with 6, 7, 8 or 9 is therefore read as
  a mobile number without its 9th digit, and `normalize_phone` returns the canonical form with it.
  (libphonenumber still accepts 8-digit numbers starting with 7 as legacy trunked-radio mobiles; those
  networks are gone, and the rule above takes precedence.) Eight-digit numbers starting with 2 to 5 are
  landlines and are left alone.

* DDD (area code) -> state (UF) -> time zone, from our own table below, because libphonenumber's time-zone
  data is too coarse or wrong for Brazil: it maps all of DDD 81 (Recife) to America/Noronha (UTC-2, but
  Recife is UTC-3) and DDDs 93/94 (Pará) to America/Manaus (UTC-4, but Pará has been UTC-3 since 2008).

Twilio addresses ("whatsapp:+5511987654321" for WhatsApp, "+5511987654321" for SMS) are parsed by
`parse_address`, which keeps the number in the form Twilio gave it: replying to an old WhatsApp id must go
to that id, not to the canonical number. Use `Address.canonical_e164` or `br_mobile_variants` to match it
against stored numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType, ValidationResult

from bot.localtime import DEFAULT_TZ

__all__ = [
    "DDD_TIMEZONE",
    "DDD_TO_UF",
    "DEFAULT_TIMEZONE",
    "UF_TIMEZONE",
    "Address",
    "Channel",
    "InvalidPhone",
    "br_mobile_variants",
    "ddd",
    "is_mobile",
    "normalize_phone",
    "normalize_wa_id",
    "parse_address",
    "state_for_phone",
    "timezone_for_phone",
]

Channel = Literal["whatsapp", "sms"]

BRAZIL_COUNTRY_CODE = 55
DEFAULT_TIMEZONE = DEFAULT_TZ
WHATSAPP_PREFIX = "whatsapp:"

# Every Brazilian DDD (área de numeração) and its state, as published by ANATEL in the "Plano Geral de
# Códigos Nacionais" (PGCN) tables (https://www.gov.br/anatel, "Códigos Nacionais"). 67 codes. DDD 61
# also covers a few towns of Goiás around Brasília; it is listed as DF.
DDD_TO_UF: dict[int, str] = {
    11: "SP", 12: "SP", 13: "SP", 14: "SP", 15: "SP", 16: "SP", 17: "SP", 18: "SP", 19: "SP",
    21: "RJ", 22: "RJ", 24: "RJ",
    27: "ES", 28: "ES",
    31: "MG", 32: "MG", 33: "MG", 34: "MG", 35: "MG", 37: "MG", 38: "MG",
    41: "PR", 42: "PR", 43: "PR", 44: "PR", 45: "PR", 46: "PR",
    47: "SC", 48: "SC", 49: "SC",
    51: "RS", 53: "RS", 54: "RS", 55: "RS",
    61: "DF",
    62: "GO", 64: "GO",
    63: "TO",
    65: "MT", 66: "MT",
    67: "MS",
    68: "AC",
    69: "RO",
    71: "BA", 73: "BA", 74: "BA", 75: "BA", 77: "BA",
    79: "SE",
    81: "PE", 87: "PE",
    82: "AL",
    83: "PB",
    84: "RN",
    85: "CE", 88: "CE",
    86: "PI", 89: "PI",
    91: "PA", 93: "PA", 94: "PA",
    92: "AM", 97: "AM",
    95: "RR",
    96: "AP",
    98: "MA", 99: "MA",
}  # fmt: skip

# IANA zone of each state (zone.tab of the tz database). Brazil has four offsets and no daylight saving
# time since 2019: UTC-2 (Fernando de Noronha), UTC-3 (Brasília: most of the country), UTC-4 (AM, MT, MS,
# RO, RR) and UTC-5 (AC and the south-west of Amazonas).
UF_TIMEZONE: dict[str, str] = {
    "AC": "America/Rio_Branco",  # UTC-5
    "AM": "America/Manaus",  # UTC-4 (the south-west is UTC-5: see DDD 97 below)
    "RR": "America/Boa_Vista",  # UTC-4
    "RO": "America/Porto_Velho",  # UTC-4
    "MT": "America/Cuiaba",  # UTC-4
    "MS": "America/Campo_Grande",  # UTC-4
    "PA": "America/Belem",  # UTC-3
    "AP": "America/Belem",
    "TO": "America/Araguaina",
    "MA": "America/Fortaleza",
    "PI": "America/Fortaleza",
    "CE": "America/Fortaleza",
    "RN": "America/Fortaleza",
    "PB": "America/Fortaleza",
    "PE": "America/Recife",  # Fernando de Noronha (UTC-2) shares DDD 81 with Recife: cannot be told apart
    "AL": "America/Maceio",
    "SE": "America/Maceio",
    "BA": "America/Bahia",
    "SP": "America/Sao_Paulo",
    "RJ": "America/Sao_Paulo",
    "ES": "America/Sao_Paulo",
    "MG": "America/Sao_Paulo",
    "PR": "America/Sao_Paulo",
    "SC": "America/Sao_Paulo",
    "RS": "America/Sao_Paulo",
    "DF": "America/Sao_Paulo",
    "GO": "America/Sao_Paulo",
}

# Where a DDD does not follow its state's zone:
# * 93 (Santarém, western Pará) has its own tz zone; same offset (UTC-3) as Belém.
# * 97 (interior of Amazonas) straddles two offsets: Eirunepé, Envira, Ipixuna, Guajará, Itamarati, Pauini,
#   Boca do Acre and Atalaia do Norte (tz zone America/Eirunepe) are UTC-5, but most of the DDD's people
#   (Tefé, Coari, Tabatinga, Humaitá, Lábrea, São Gabriel da Cachoeira, ...) are UTC-4, so the DDD gets
#   America/Manaus. A reminder for a UTC-5 debtor then arrives one hour "later" on their clock than
#   intended, which quiet-hour windows must tolerate.
# * 81 keeps America/Recife although it also serves Fernando de Noronha (UTC-2).
_DDD_TIMEZONE_OVERRIDES: dict[int, str] = {93: "America/Santarem", 97: "America/Manaus"}

DDD_TIMEZONE: dict[int, str] = {
    code: _DDD_TIMEZONE_OVERRIDES.get(code, UF_TIMEZONE[uf]) for code, uf in DDD_TO_UF.items()
}

_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_CHANNEL_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Subscriber part of a pre-2016 mobile number: 8 digits starting with 6-9 (see the module docstring).
_OLD_MOBILE_SUBSCRIBER = re.compile(r"[6-9][0-9]{7}")

_POSSIBILITY_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country calling code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits",
}
_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "missing or unknown country calling code",
    NumberParseException.NOT_A_NUMBER: "no phone number found in the text",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


class InvalidPhone(ValueError):
    """A value is not a valid phone number (or Twilio address); the message says why."""


def _strip_whatsapp_prefix(raw: str) -> tuple[bool, str]:
    """(had the "whatsapp:" prefix, the rest). Raises `InvalidPhone` for any other "scheme:" prefix."""
    text = raw.strip()
    if text[: len(WHATSAPP_PREFIX)].lower() == WHATSAPP_PREFIX:
        return True, text[len(WHATSAPP_PREFIX) :].strip()
    match = _CHANNEL_PREFIX.match(text)
    if match and match.group(1).lower() != "tel":  # "tel:" URIs (RFC 3966) are handled by phonenumbers.
        raise InvalidPhone(f"unsupported address prefix {match.group(1)!r}:")
    return False, text


def _add_ninth_digit(number: PhoneNumber) -> PhoneNumber | None:
    """The canonical 9-digit mobile form of an old 8-digit Brazilian mobile number, else None."""
    if number.country_code != BRAZIL_COUNTRY_CODE:
        return None
    nsn = phonenumbers.national_significant_number(number)
    if len(nsn) != 10 or int(nsn[:2]) not in DDD_TO_UF or not _OLD_MOBILE_SUBSCRIBER.fullmatch(nsn[2:]):
        return None
    candidate = phonenumbers.parse(f"+{BRAZIL_COUNTRY_CODE}{nsn[:2]}9{nsn[2:]}")
    if phonenumbers.is_valid_number(candidate) and phonenumbers.number_type(candidate) in _MOBILE_TYPES:
        return candidate
    return None


def _invalid_reason(number: PhoneNumber) -> str:
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _POSSIBILITY_REASONS:
        return _POSSIBILITY_REASONS[reason]
    if number.country_code == BRAZIL_COUNTRY_CODE:
        nsn = phonenumbers.national_significant_number(number)
        if len(nsn) in (10, 11) and int(nsn[:2]) not in DDD_TO_UF:
            return f"unknown Brazilian area code (DDD) {nsn[:2]}"
    region = phonenumbers.region_code_for_country_code(number.country_code)
    return f"not a valid number in {region} (+{number.country_code})"


def _parse(text: str, default_region: str | None) -> PhoneNumber:
    """Parse with phonenumbers, turning its exception into `InvalidPhone`. No validity check."""
    if not text:
        raise InvalidPhone("phone number is empty")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        reason = _PARSE_ERRORS.get(exc.error_type, "unreadable")
        raise InvalidPhone(f"not a phone number: {reason}") from None
    if number.extension:
        raise InvalidPhone("phone numbers with an extension are not supported")
    return number


def _canonical(number: PhoneNumber) -> PhoneNumber:
    """The canonical form of a parsed number (9th digit added); raises `InvalidPhone` if not valid."""
    with_ninth = _add_ninth_digit(number)
    if with_ninth is not None:
        return with_ninth
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"invalid phone number: {_invalid_reason(number)}")
    return number


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_canonical(raw: str, default_region: str | None = "BR") -> PhoneNumber:
    if not isinstance(raw, str):
        raise TypeError(f"phone number must be a str, not {type(raw).__name__}")
    _, text = _strip_whatsapp_prefix(raw)
    return _canonical(_parse(text, default_region))


def normalize_phone(raw: str, default_region: str | None = "BR") -> str:
    """Return the canonical E.164 form ("+5511987654321") of a phone number, or raise `InvalidPhone`.

    Accepts the usual ways of writing a number: "+55 (11) 98765-4321", "11987654321", "5511987654321",
    "(11) 3456-7890", "0xx11 98765-4321", "0 21 11 98765-4321" (carrier code), "tel:+55...", and Twilio's
    "whatsapp:+55..." (the prefix is dropped). Numbers without a country code are read in
    `default_region`. A Brazilian mobile number without its 9th digit gets it (see the module docstring).
    """
    return _e164(_parse_canonical(raw, default_region))


def normalize_wa_id(wa_id: str) -> str:
    """Canonical E.164 of a WhatsApp id (Twilio's ``WaId``: all digits with country code, no "+").

    "551187654321" (an old id without the 9th digit) -> "+5511987654321". Unlike `normalize_phone`, the
    digits always start with the country code, so "16502530000" is a US number, not a Brazilian one.
    """
    if not isinstance(wa_id, str):
        raise TypeError(f"WaId must be a str, not {type(wa_id).__name__}")
    digits = wa_id.strip().removeprefix("+")
    if not re.fullmatch(r"[0-9]+", digits):
        raise InvalidPhone("WaId must contain only digits")
    return normalize_phone(f"+{digits}", default_region=None)


def br_mobile_variants(e164: str) -> list[str]:
    """Both forms of a Brazilian mobile number, canonical (with the 9th digit) first; else ``[canonical]``.

    "+5511987654321" or "+551187654321" -> ["+5511987654321", "+551187654321"]. Only mobile numbers whose
    subscriber part is 9 followed by 6-9 have an old 8-digit form; newer ranges (91..., 95...) and landlines
    give one element. Use it to look a debtor up by a WhatsApp id that may differ from the stored number.
    """
    number = _parse_canonical(e164)
    canonical = _e164(number)
    if number.country_code != BRAZIL_COUNTRY_CODE or phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return [canonical]
    nsn = phonenumbers.national_significant_number(number)
    if len(nsn) == 11 and nsn[2] == "9" and _OLD_MOBILE_SUBSCRIBER.fullmatch(nsn[3:]):
        return [canonical, f"+{BRAZIL_COUNTRY_CODE}{nsn[:2]}{nsn[3:]}"]
    return [canonical]


def ddd(e164: str) -> int | None:
    """The DDD (area code) of a Brazilian geographic number; None for foreign or non-geographic numbers
    (0800, 4004...). Raises `InvalidPhone` if `e164` is not a valid phone number at all."""
    number = _parse_canonical(e164)
    if number.country_code != BRAZIL_COUNTRY_CODE or not phonenumbers.is_number_geographical(number):
        return None
    code = int(phonenumbers.national_significant_number(number)[:2])
    return code if code in DDD_TO_UF else None


def state_for_phone(e164: str) -> str | None:
    """The state (UF, e.g. "SP") of a Brazilian geographic number, from its DDD; None otherwise."""
    code = ddd(e164)
    return None if code is None else DDD_TO_UF[code]


def timezone_for_phone(e164: str) -> str:
    """The IANA time zone of a Brazilian number, from its DDD; `DEFAULT_TIMEZONE` (Brasília) otherwise.

    Exceptions by design: DDD 97 is America/Manaus although part of it is UTC-5, and DDD 81 is
    America/Recife although Fernando de Noronha (UTC-2) shares it (see `_DDD_TIMEZONE_OVERRIDES`).
    Foreign numbers also get the default: Régua talks to them on Brazilian time.
    """
    code = ddd(e164)
    return DEFAULT_TIMEZONE if code is None else DDD_TIMEZONE[code]


def is_mobile(e164: str) -> bool:
    """True for mobile numbers (and numbers that may be either, as in the US); False for landlines etc."""
    return phonenumbers.number_type(_parse_canonical(e164)) in _MOBILE_TYPES


@dataclass(frozen=True)
class Address:
    """A Twilio endpoint: the channel and the number in E.164, as Twilio writes it (not canonicalized)."""

    channel: Channel
    e164: str

    def __post_init__(self) -> None:
        if self.channel not in ("whatsapp", "sms"):
            raise ValueError(f"channel must be 'whatsapp' or 'sms', not {self.channel!r}")
        if not isinstance(self.e164, str) or not _E164.fullmatch(self.e164):
            raise ValueError("e164 must be '+' followed by 7 to 15 digits")

    @property
    def twilio(self) -> str:
        """The value for Twilio's From/To: "whatsapp:+5511987654321" or "+5511987654321"."""
        return f"{WHATSAPP_PREFIX}{self.e164}" if self.channel == "whatsapp" else self.e164

    @property
    def canonical_e164(self) -> str:
        """The number in canonical form (with the Brazilian 9th digit): use it to match stored numbers."""
        return normalize_phone(self.e164)


def parse_address(raw: str) -> Address:
    """Parse a Twilio From/To value: "whatsapp:+5511987654321" -> WhatsApp, "+5511987654321" -> SMS.

    The number is validated as `normalize_phone` does, but kept as given when it differs from the canonical
    form only by the Brazilian 9th digit (an old WhatsApp id must be answered as such), so that
    ``parse_address(x).twilio == x`` for any well-formed Twilio value.
    """
    if not isinstance(raw, str):
        raise TypeError(f"address must be a str, not {type(raw).__name__}")
    is_whatsapp, text = _strip_whatsapp_prefix(raw)
    parsed = _parse(text, "BR")
    canonical = _canonical(parsed)
    as_given = _e164(parsed)
    e164 = as_given if as_given in br_mobile_variants(_e164(canonical)) else _e164(canonical)
    return Address(channel="whatsapp" if is_whatsapp else "sms", e164=e164)
