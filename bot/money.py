"""Money in Régua is an int number of centavos. Never a float.

Floats cannot represent most centavo amounts exactly (0.1 + 0.2 != 0.3), so every function here refuses
them with `TypeError`. Amounts come in as text typed by a person or read from a spreadsheet
(`parse_amount`), as int centavos, or as `Decimal` reais (database NUMERIC columns, payment APIs), and go
out as text for Brazilian readers (`format_brl`).

Parsing text: the rules, in order
---------------------------------
An optional "-" and an optional "R$" (any case, with or without a space) may precede the number.

1. No separator: whole reais. "1234" -> 1234 reais.
2. Both "." and "," present: the one that comes last is the decimal separator, the other groups
   thousands. "1.234,56" (Brazilian) and "1,234.56" (English) are both R$ 1.234,56. Thousands groups
   must be well formed ("12.34,56" is rejected).
3. Only ",": decimal comma (the Brazilian convention). "0,5" -> 50 centavos. A comma is never read as a
   thousands separator, so "1,234" has three decimal places and is rejected.
4. Only "." (the ambiguous case): a single dot followed by one or two digits is a decimal point
   ("12.34" -> 1234 centavos, "0.5" -> 50); dots each followed by exactly three digits group thousands
   ("1.234" -> 123400 centavos, "1.234.567" -> R$ 1.234.567,00), since that is what a Brazilian writes.
   Anything else ("12.3456", "1.23.45") is rejected.

In every case more than two decimal places are rejected, never rounded.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

__all__ = [
    "InvalidAmount",
    "cents_to_decimal",
    "decimal_to_cents",
    "format_brl",
    "parse_amount",
]

_CENTS_PER_REAL = 100
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})  # no-break spaces, as written by Excel/Intl
_AMOUNT = re.compile(r"(?P<sign1>-)?\s*(?:R\$)?\s*(?P<sign2>-)?\s*(?P<number>[0-9.,]+)", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_FRACTION = re.compile(r"[0-9]{1,2}")


class InvalidAmount(ValueError):
    """A value cannot be read as an amount of money; the message says why."""


def _reject_float(value: object) -> None:
    if isinstance(value, float):
        raise TypeError("money is never a float: pass int centavos, a Decimal or a string")


def _grouped_int(text: str, separator: str) -> int | None:
    """The value of "1.234.567" (with `separator` between groups of three), or None if not well formed."""
    groups = text.split(separator)
    first, rest = groups[0], groups[1:]
    if not rest or not re.fullmatch(r"[1-9][0-9]{0,2}", first) or any(len(g) != 3 for g in rest):
        return None
    if not all(_DIGITS.fullmatch(g) for g in rest):
        return None
    return int("".join(groups))


def _compose(whole: int, fraction: str, text: str) -> int:
    if len(fraction) > 2 and _DIGITS.fullmatch(fraction):
        raise InvalidAmount(f"amount has more than 2 decimal places: {text!r}")
    if not _FRACTION.fullmatch(fraction):
        raise InvalidAmount(f"not an amount of money: {text!r}")
    return whole * _CENTS_PER_REAL + int(fraction.ljust(2, "0"))


def _parse_number(number: str, text: str) -> int:
    """Centavos of an unsigned number written with the rules of the module docstring."""
    garbage = InvalidAmount(f"not an amount of money: {text!r}")
    has_dot, has_comma = "." in number, "," in number
    if not has_dot and not has_comma:
        return int(number) * _CENTS_PER_REAL
    if has_dot and has_comma:
        decimal_sep = "." if number.rfind(".") > number.rfind(",") else ","
        thousands_sep = "," if decimal_sep == "." else "."
        whole_text, fraction = number.rsplit(decimal_sep, 1)
        whole = _grouped_int(whole_text, thousands_sep)
        if whole is None or decimal_sep in whole_text:
            raise garbage
        return _compose(whole, fraction, text)
    if has_comma:
        whole_text, _, fraction = number.partition(",")
        if "," in fraction or (whole_text and not _DIGITS.fullmatch(whole_text)):
            raise garbage
        return _compose(int(whole_text or "0"), fraction, text)
    # Only dots.
    whole_text, _, fraction = number.partition(".")
    if "." not in fraction and _FRACTION.fullmatch(fraction):  # "12.34", "0.5", ".5": decimal point
        if whole_text and not _DIGITS.fullmatch(whole_text):
            raise garbage
        return _compose(int(whole_text or "0"), fraction, text)
    grouped = _grouped_int(number, ".")
    if grouped is not None:  # "1.234", "1.234.567": thousands
        return grouped * _CENTS_PER_REAL
    if "." not in fraction and _DIGITS.fullmatch(whole_text or "0") and _DIGITS.fullmatch(fraction):
        raise InvalidAmount(f"amount has more than 2 decimal places: {text!r}")  # "12.3456"
    raise garbage


def parse_amount(value: str | int | Decimal, *, allow_negative: bool = False) -> int:
    """Read an amount and return it in centavos (int).

    * str: reais as people write them ("R$ 1.234,56", "1234,56", "1234.56", "1.234", "0,5"): see the
      module docstring for the rules, including how "1.234" (thousands) and "12.34" (decimals) are told
      apart.
    * int: already centavos, returned unchanged (``parse_amount(1234) == 1234``, i.e. R$ 12,34). An int
      is never read as reais: convert whole reais yourself (``reais * 100``).
    * Decimal: reais, converted exactly (``Decimal("12.34")`` -> 1234); more than two decimal places are
      rejected (use `decimal_to_cents` to round instead).
    * float (and bool): `TypeError`. Money is never a float.

    Negative amounts raise `InvalidAmount` unless ``allow_negative=True``. Empty or unreadable text and
    more than two decimal places raise `InvalidAmount`.
    """
    _reject_float(value)
    if isinstance(value, bool):
        raise TypeError("an amount cannot be a bool")
    if isinstance(value, int):
        cents = value
    elif isinstance(value, Decimal):
        cents = _decimal_to_exact_cents(value)
    elif isinstance(value, str):
        cents = _parse_text(value)
    else:
        raise TypeError(f"an amount must be str, int or Decimal, not {type(value).__name__}")
    if cents < 0 and not allow_negative:
        raise InvalidAmount("negative amounts are not allowed here")
    return cents


def _parse_text(value: str) -> int:
    text = value.translate(_SPACES).strip()
    if not text:
        raise InvalidAmount("amount is empty")
    match = _AMOUNT.fullmatch(text)
    if match is None or (match["sign1"] and match["sign2"]):
        raise InvalidAmount(f"not an amount of money: {value!r}")
    cents = _parse_number(match["number"], value)
    return -cents if match["sign1"] or match["sign2"] else cents


def _times_100(value: Decimal) -> Decimal:
    """`value` * 100, exactly: the exponent moves, the digits stay (no context precision involved)."""
    sign, digits, exponent = value.as_tuple()
    return Decimal((sign, digits, exponent + 2))  # type: ignore[operator]


def _decimal_to_exact_cents(value: Decimal) -> int:
    if not value.is_finite():
        raise InvalidAmount(f"not an amount of money: {value}")
    scaled = _times_100(value)
    exponent = scaled.as_tuple().exponent
    if exponent < 0 and any(scaled.as_tuple().digits[exponent:]):  # a non-zero digit below the centavo
        raise InvalidAmount(f"amount has more than 2 decimal places: {value}")
    return int(scaled)


def format_brl(cents: int) -> str:
    """Centavos as Brazilian reais: 123456 -> "R$ 1.234,56", 5 -> "R$ 0,05", -100 -> "-R$ 1,00".

    The space after "R$" is a regular space (U+0020), not the no-break space some locales use, so the
    text is the same everywhere (WhatsApp, SMS, logs) and `parse_amount` reads it back.
    """
    _reject_float(cents)
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"format_brl takes int centavos, not {type(cents).__name__}")
    reais, centavos = divmod(abs(cents), _CENTS_PER_REAL)
    sign = "-" if cents < 0 else ""
    return f"{sign}R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"


def cents_to_decimal(cents: int) -> Decimal:
    """Centavos as a Decimal of reais with exactly two places: 123456 -> Decimal("1234.56")."""
    _reject_float(cents)
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents_to_decimal takes int centavos, not {type(cents).__name__}")
    return Decimal(cents).scaleb(-2)


def decimal_to_cents(value: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """A Decimal of reais as int centavos, rounded to the centavo with `rounding`.

    The default, ``decimal.ROUND_HALF_UP``, is the rounding people and Brazilian banks expect: a half
    centavo rounds away from zero (Decimal("0.005") -> 1, Decimal("-0.005") -> -1, Decimal("0.0049") -> 0).
    Pass ``decimal.ROUND_HALF_EVEN`` (banker's rounding) or ``ROUND_DOWN`` (truncation) when a contract
    says so. Exact values are not affected by the choice. Use `parse_amount` to reject instead of round.
    """
    _reject_float(value)
    if not isinstance(value, Decimal):
        raise TypeError(f"decimal_to_cents takes a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise InvalidAmount(f"not an amount of money: {value}")
    scaled = _times_100(value)
    with localcontext() as ctx:
        # Enough precision for every digit of the result, so quantize rounds once and never overflows.
        ctx.prec = max(ctx.prec, len(scaled.as_tuple().digits), scaled.adjusted() + 1) + 2
        return int(scaled.quantize(Decimal(1), rounding=rounding))
