"""Brazilian taxpayer documents: CPF (people) and CNPJ (companies).

Every function takes what a person or a spreadsheet typed ("123.456.789-09", "12345678909",
" 123 456 789 09 ") and works on the canonical form: the bare digits (CPF, 11 characters) or the bare
characters (CNPJ, 14 characters). Check digits are verified with `validate_docbr`.

Privacy: a CPF identifies a person. Use `mask_cpf` whenever one goes to a log, and note that the messages
of `InvalidDocument` never repeat the value they reject, so they are safe to log as well.

Leading zeros lost in spreadsheets: CPFs and CNPJs may start with zeros ("012.345.678-90"), and a
spreadsheet that stores the column as a number turns that into 1234567890. A value made only of digits
that is one or two digits short is therefore zero-padded on the left, and accepted only when the padded
value passes the check-digit test. The limit of two lost zeros is deliberate: a shorter value is more
likely truncated or mistyped than zero-stripped, and the check digits alone let one random value in 100
through. Padding never applies to values typed with punctuation (those were never numbers), and it can be
turned off with ``allow_zero_padding=False`` (for instance for a CPF typed in a chat).

Alphanumeric CNPJ: from July 2026 the Receita Federal also issues CNPJs whose first 12 characters may be
letters (A-Z) as well as digits; the two check digits stay numeric. `validate_docbr` (2.0+) validates both
forms, so both are accepted here; letters are upper-cased.
"""

from __future__ import annotations

import re

from validate_docbr import CNPJ, CPF

__all__ = [
    "CNPJ_LENGTH",
    "CPF_LENGTH",
    "MAX_LOST_LEADING_ZEROS",
    "InvalidDocument",
    "format_cnpj",
    "format_cpf",
    "is_valid_cnpj",
    "is_valid_cpf",
    "mask_cpf",
    "normalize_cnpj",
    "normalize_cpf",
]

CPF_LENGTH = 11
CNPJ_LENGTH = 14
# How many leading zeros a spreadsheet may have dropped from an all-digit value (see the module docstring).
MAX_LOST_LEADING_ZEROS = 2

_CPF_CHARS = re.compile(r"[0-9.\-\s]*")
_CNPJ_CHARS = re.compile(r"[0-9A-Za-z./\-\s]*")
_ONLY_DIGITS = re.compile(r"[0-9]+")
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")

_cpf_validator = CPF()
_cnpj_validator = CNPJ()


class InvalidDocument(ValueError):
    """A CPF or CNPJ is malformed or fails its check digits. The message never contains the value."""


def _as_text(value: object, kind: str) -> str:
    """The input as a stripped string; ints are allowed (spreadsheets), floats and others are not."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{kind} must be given as str (or int), not {type(value).__name__}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidDocument(f"{kind} cannot be negative")
        return str(value)
    return value.strip()


def _pad_lost_zeros(text: str, chars: str, length: int, allow_zero_padding: bool) -> tuple[str, bool]:
    """Zero-pad `chars` to `length` when `text` was a bare number that lost its leading zeros.

    Returns the (possibly) padded value and whether padding happened.
    """
    missing = length - len(chars)
    if allow_zero_padding and 0 < missing <= MAX_LOST_LEADING_ZEROS and _ONLY_DIGITS.fullmatch(text):
        return chars.zfill(length), True
    return chars, False


def normalize_cpf(value: str | int, *, allow_zero_padding: bool = True) -> str:
    """Return the 11 digits of a valid CPF, or raise `InvalidDocument`.

    Accepts "123.456.789-09", "12345678909", spaces anywhere, and a bare number of 9 or 10 digits that lost
    its leading zeros in a spreadsheet (padded only if the result is valid; see the module docstring).
    """
    text = _as_text(value, "CPF")
    if not text:
        raise InvalidDocument("CPF is empty")
    if not _CPF_CHARS.fullmatch(text):
        raise InvalidDocument("CPF may contain only digits, '.', '-' and spaces")
    digits = re.sub(r"[^0-9]", "", text)
    digits, padded = _pad_lost_zeros(text, digits, CPF_LENGTH, allow_zero_padding)
    if len(digits) != CPF_LENGTH:
        raise InvalidDocument(f"CPF must have {CPF_LENGTH} digits, got {len(digits)}")
    if len(set(digits)) == 1:
        raise InvalidDocument("CPF cannot have all digits equal")
    if not _cpf_validator.validate(digits):
        if padded:
            raise InvalidDocument(
                f"CPF has {len(text)} digits and zero-padded to {CPF_LENGTH} its check digits do not match"
            )
        raise InvalidDocument("CPF check digits do not match")
    return digits


def normalize_cnpj(value: str | int, *, allow_zero_padding: bool = True) -> str:
    """Return the 14 characters of a valid CNPJ (digits, or upper-case letters and digits), or raise.

    Accepts "12.345.678/0001-95", "12345678000195", the alphanumeric form "12.ABC.345/01DE-35" (any case),
    spaces anywhere, and a bare number of 12 or 13 digits that lost its leading zeros (padded only if the
    result is valid; see the module docstring).
    """
    text = _as_text(value, "CNPJ")
    if not text:
        raise InvalidDocument("CNPJ is empty")
    if not _CNPJ_CHARS.fullmatch(text):
        raise InvalidDocument("CNPJ may contain only letters, digits, '.', '/', '-' and spaces")
    chars = re.sub(r"[^0-9A-Z]", "", text.upper())
    chars, padded = _pad_lost_zeros(text, chars, CNPJ_LENGTH, allow_zero_padding)
    if len(chars) != CNPJ_LENGTH:
        raise InvalidDocument(f"CNPJ must have {CNPJ_LENGTH} characters, got {len(chars)}")
    if not _CNPJ_SHAPE.fullmatch(chars):
        raise InvalidDocument("CNPJ check digits (the last two characters) must be digits")
    if len(set(chars)) == 1:
        raise InvalidDocument("CNPJ cannot have all characters equal")
    if not _cnpj_validator.validate(chars):
        if padded:
            raise InvalidDocument(
                f"CNPJ has {len(text)} digits and zero-padded to {CNPJ_LENGTH} its check digits do not match"
            )
        raise InvalidDocument("CNPJ check digits do not match")
    return chars


def is_valid_cpf(value: object, *, allow_zero_padding: bool = True) -> bool:
    """True if `value` is a valid CPF in any accepted form; never raises."""
    try:
        normalize_cpf(value, allow_zero_padding=allow_zero_padding)  # type: ignore[arg-type]
    except (InvalidDocument, TypeError):
        return False
    return True


def is_valid_cnpj(value: object, *, allow_zero_padding: bool = True) -> bool:
    """True if `value` is a valid CNPJ (numeric or alphanumeric) in any accepted form; never raises."""
    try:
        normalize_cnpj(value, allow_zero_padding=allow_zero_padding)  # type: ignore[arg-type]
    except (InvalidDocument, TypeError):
        return False
    return True


def format_cpf(value: str | int) -> str:
    """A valid CPF in the usual mask: "123.456.789-09". Raises `InvalidDocument` if it is not valid."""
    d = normalize_cpf(value)
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def format_cnpj(value: str | int) -> str:
    """A valid CNPJ in the usual mask: "12.345.678/0001-95". Raises `InvalidDocument` if it is not valid."""
    d = normalize_cnpj(value)
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"


def mask_cpf(value: str | int) -> str:
    """A valid CPF with the first three and the check digits hidden: "***.456.789-**".

    This is the only form in which a CPF may reach a log or an operator screen. Raises `InvalidDocument`
    (whose message does not contain the value) if `value` is not a valid CPF.
    """
    d = normalize_cpf(value)
    return f"***.{d[3:6]}.{d[6:9]}-**"
