"""Boletos: parse, validate, build and draw them by FEBRABAN's rules.

Two families share the 44-digit barcode (Interleaved 2 of 5):

* **Bank boletos** ("boleto de cobrança", first digit not 8). Barcode: bank code (3), currency (1, always
  9 = real), general check digit (1, mod 11), due date factor (4), amount in centavos (10), free field
  (25, the bank's). The linha digitável (47 digits) regroups it in five fields: three carry the bank,
  currency and free field with a mod 10 check digit each, the fourth is the general check digit and the
  fifth is factor + amount.
* **Arrecadação** (utility bills, taxes, "convênio"/"concessionária": first digit 8). Barcode: 8, segment
  (1), value/reference identifier (1), general check digit (1), value (11), company/agreement and free
  data. The identifier says how check digits are computed and what the value is: 6 and 7 use mod 10, 8
  and 9 use mod 11; 6 and 8 carry the amount in centavos, 7 and 9 a reference quantity (not money). The
  line (48 digits) is the barcode cut into four blocks of 11 digits, each followed by its check digit.

`parse` accepts any of the three forms (44, 47 or 48 digits, with or without dots, spaces and hyphens)
and checks every check digit; `build` makes a bank boleto; `format_linha` prints a line the way it is
printed on paper; `barcode_png` draws the barcode.

Due date factor
---------------
Bank boletos carry their due date as a "fator de vencimento": days since 07/10/1997 (factor 1000 was
03/07/2000). The four digits ran out at 9999 = 21/02/2025, so FEBRABAN restarted the count at 1000 on
22/02/2025; the same factor now names dates 9000 days apart (1000 = 03/07/2000 and 22/02/2025). A factor
is decoded into the one candidate date inside a 9000-day window around `today`: from 3000 days before
(about 8 years: old overdue boletos) to 6000 days after (about 16 years: long installment plans). Being
exactly one cycle long, the window always holds exactly one candidate. Factor 0000 means "no due date"
(`due_date` is None); factors 0001-0999 never named a date since the factor was adopted and are rejected.
An amount of zero (all digits 0) means "amount not set" (`amount_cents` is None), as on credit card bills.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from bot.localtime import DEFAULT_ZONE

__all__ = [
    "CYCLE_DAYS",
    "WINDOW_FUTURE_DAYS",
    "WINDOW_PAST_DAYS",
    "Boleto",
    "InvalidBoleto",
    "barcode_png",
    "build",
    "due_date_from_factor",
    "due_factor",
    "format_linha",
    "parse",
]

_FIRST_FACTOR_1000 = date(2000, 7, 3)  # factor 1000 of the first cycle (07/10/1997 + 1000 days)
CYCLE_DAYS = 9000  # factors 1000..9999; 22/02/2025 restarted the count at 1000
WINDOW_PAST_DAYS = 3000
WINDOW_FUTURE_DAYS = CYCLE_DAYS - WINDOW_PAST_DAYS
_MAX_BANK_AMOUNT = 9_999_999_999  # 10 digits of centavos
_BRAZIL_TZ = DEFAULT_ZONE
_SEPARATORS = re.compile(r"[\s.\-]+")
_DIGITS = re.compile(r"[0-9]+")

Kind = Literal["bank", "arrecadacao"]


class InvalidBoleto(ValueError):
    """A code is not a valid boleto; the message says which field, check digit or length is wrong."""


@dataclass(frozen=True)
class Boleto:
    """A validated boleto. Build one with `parse` or `build`, not directly.

    `linha_digitavel` is digits only (47 for bank boletos, 48 for arrecadação); `format_linha` groups
    it for people. `amount_cents` is None when the code carries no amount (all zeros, or an arrecadação
    reference value); `due_date` is None when there is no due date (factor 0000, and always for
    arrecadação, whose layout has no standard due date); `bank_code` is None for arrecadação.
    """

    barcode: str
    linha_digitavel: str
    kind: Kind
    amount_cents: int | None
    due_date: date | None
    bank_code: str | None


# ----------------------------------------------------------------------------------------- check digits


def _mod10(digits: str) -> int:
    """FEBRABAN's modulo 10: weights 2, 1, 2, ... from the right, digits of each product summed."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        product = int(char) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def _weighted_mod11(digits: str) -> int:
    """Remainder mod 11 of the sum with weights 2..9 (repeating) from the right."""
    return sum(int(char) * (2 + i % 8) for i, char in enumerate(reversed(digits))) % 11


def _mod11_bank(digits: str) -> int:
    """General check digit of a bank barcode: 11 - remainder, and 1 instead of 0, 10 or 11."""
    dv = 11 - _weighted_mod11(digits)
    return 1 if dv in (0, 10, 11) else dv


def _mod11_arrecadacao(digits: str) -> int:
    """Modulo 11 of arrecadação: 11 - remainder, and 0 when the remainder is 0 or 1."""
    remainder = _weighted_mod11(digits)
    return 0 if remainder in (0, 1) else 11 - remainder


def _arrecadacao_modulus(identifier: str) -> tuple[str, Callable[[str], int]]:
    if identifier in "67":
        return "mod 10", _mod10
    if identifier in "89":
        return "mod 11", _mod11_arrecadacao
    raise InvalidBoleto(
        f"arrecadação value identifier (3rd digit) is {identifier}; "
        "it must be 6 or 7 (mod 10) or 8 or 9 (mod 11)"
    )


# ----------------------------------------------------------------------------------------- due dates


def _today() -> date:
    return datetime.now(_BRAZIL_TZ).date()


def due_factor(due: date) -> int:
    """The 4-digit due date factor of `due` (1000 for 03/07/2000 and again for 22/02/2025).

    Dates before 03/07/2000 have no factor in use and raise `InvalidBoleto`.
    """
    if isinstance(due, datetime) or not isinstance(due, date):
        raise TypeError(f"due date must be a datetime.date, not {type(due).__name__}")
    if due < _FIRST_FACTOR_1000:
        raise InvalidBoleto(f"due date {due.isoformat()} is before 2000-07-03, the first date with a factor")
    return 1000 + (due - _FIRST_FACTOR_1000).days % CYCLE_DAYS


def due_date_from_factor(factor: int, *, today: date | None = None) -> date | None:
    """The due date a factor names: the candidate within [today - 3000 days, today + 6000 days).

    Factor 0 means no due date (None). `today` defaults to the current date in Brasília; pass it to
    decode as of another day. Factors 1-999 and > 9999 raise `InvalidBoleto`.
    """
    if factor == 0:
        return None
    if not 1000 <= factor <= 9999:
        raise InvalidBoleto(f"due date factor {factor:04d} is out of range: 1000-9999, or 0000 for none")
    first = _FIRST_FACTOR_1000 + timedelta(days=factor - 1000)
    window_start = (today or _today()) - timedelta(days=WINDOW_PAST_DAYS)
    cycles = max(0, -(-(window_start - first).days // CYCLE_DAYS))  # ceil, never before the first cycle
    return first + timedelta(days=cycles * CYCLE_DAYS)


# ------------------------------------------------------------------------------------------- parsing


def _digits(code: str) -> str:
    if not isinstance(code, str):
        raise TypeError(f"a boleto code is a str, not {type(code).__name__}")
    digits = _SEPARATORS.sub("", code)
    if not digits:
        raise InvalidBoleto("boleto code is empty")
    if not _DIGITS.fullmatch(digits):
        raise InvalidBoleto("boleto code has characters other than digits, dots, spaces and hyphens")
    return digits


def _bank_line(barcode: str) -> str:
    free = barcode[19:]
    field1 = barcode[:4] + free[:5]
    field2 = free[5:15]
    field3 = free[15:]
    return (
        f"{field1}{_mod10(field1)}{field2}{_mod10(field2)}{field3}{_mod10(field3)}{barcode[4]}{barcode[5:19]}"
    )


def _bank_from_barcode(barcode: str, today: date | None) -> Boleto:
    if barcode[0] == "8":
        raise InvalidBoleto("a bank boleto cannot start with 8 (that prefix is arrecadação)")
    if barcode[3] != "9":
        raise InvalidBoleto(f"bank boleto currency code (4th digit) is {barcode[3]}, expected 9 (real)")
    expected = _mod11_bank(barcode[:4] + barcode[5:])
    if int(barcode[4]) != expected:
        raise InvalidBoleto(
            f"bank boleto general check digit (mod 11, barcode position 5 / line position 33) is "
            f"{barcode[4]}, expected {expected}"
        )
    factor, amount = int(barcode[5:9]), int(barcode[9:19])
    return Boleto(
        barcode=barcode,
        linha_digitavel=_bank_line(barcode),
        kind="bank",
        amount_cents=amount or None,
        due_date=due_date_from_factor(factor, today=today),
        bank_code=barcode[:3],
    )


def _bank_from_line(line: str, today: date | None) -> Boleto:
    for number, (start, end) in enumerate(((0, 9), (10, 20), (21, 31)), start=1):
        expected = _mod10(line[start:end])
        if int(line[end]) != expected:
            raise InvalidBoleto(
                f"bank linha digitável field {number} check digit (mod 10) is {line[end]}, "
                f"expected {expected}"
            )
    barcode = line[:4] + line[32:47] + line[4:9] + line[10:20] + line[21:31]
    return _bank_from_barcode(barcode, today)


def _arrecadacao_line(barcode: str) -> str:
    _, modulus = _arrecadacao_modulus(barcode[2])
    blocks = [barcode[i : i + 11] for i in range(0, 44, 11)]
    return "".join(f"{block}{modulus(block)}" for block in blocks)


def _arrecadacao_from_barcode(barcode: str) -> Boleto:
    name, modulus = _arrecadacao_modulus(barcode[2])
    expected = modulus(barcode[:3] + barcode[4:])
    if int(barcode[3]) != expected:
        raise InvalidBoleto(
            f"arrecadação general check digit ({name}, barcode position 4) is {barcode[3]}, "
            f"expected {expected}"
        )
    value = int(barcode[4:15])
    return Boleto(
        barcode=barcode,
        linha_digitavel=_arrecadacao_line(barcode),
        kind="arrecadacao",
        amount_cents=value if value and barcode[2] in "68" else None,  # 7 and 9: a reference, not money
        due_date=None,
        bank_code=None,
    )


def _arrecadacao_from_line(line: str) -> Boleto:
    name, modulus = _arrecadacao_modulus(line[2])
    for number in range(4):
        block, dv = line[number * 12 : number * 12 + 11], line[number * 12 + 11]
        expected = modulus(block)
        if int(dv) != expected:
            raise InvalidBoleto(
                f"arrecadação line block {number + 1} check digit ({name}) is {dv}, expected {expected}"
            )
    return _arrecadacao_from_barcode("".join(line[i : i + 11] for i in range(0, 48, 12)))


def parse(code: str, *, today: date | None = None) -> Boleto:
    """Validate a boleto barcode or line and return its `Boleto`.

    Accepts a 44-digit barcode (bank, or arrecadação when it starts with 8), a 47-digit bank linha
    digitável or a 48-digit arrecadação line, with or without dots, spaces and hyphens. Every check
    digit is verified. `today` picks the due date factor's cycle (see the module docstring).

    Raises `InvalidBoleto` (a `ValueError`) saying what is wrong, and `TypeError` for a non-str.
    """
    digits = _digits(code)
    if len(digits) == 44:
        if digits[0] == "8":
            return _arrecadacao_from_barcode(digits)
        return _bank_from_barcode(digits, today)
    if len(digits) == 47:
        return _bank_from_line(digits, today)
    if len(digits) == 48:
        if digits[0] != "8":
            raise InvalidBoleto(f"a 48-digit line is an arrecadação line and starts with 8, not {digits[0]}")
        return _arrecadacao_from_line(digits)
    raise InvalidBoleto(
        f"boleto code has {len(digits)} digits; expected 44 (barcode), 47 (bank linha digitável) "
        "or 48 (arrecadação line)"
    )


# ------------------------------------------------------------------------------------------ building


def build(bank_code: str, amount_cents: int, due_date: date | None, free_field: str) -> Boleto:
    """A bank boleto (currency 9) with every check digit computed.

    `bank_code` has 3 digits, `free_field` 25 (the bank's layout: agreement, nosso número...).
    `amount_cents` is int centavos, 0 for "amount not set" (floats raise `TypeError`). `due_date` None
    writes factor 0000 (no due date). The returned `Boleto` decodes the due date in the cycle of
    `due_date` itself, so it always reads back as given.
    """
    if isinstance(amount_cents, float):
        raise TypeError("money is never a float: pass int centavos")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError(f"amount_cents must be int centavos, not {type(amount_cents).__name__}")
    if not isinstance(bank_code, str) or not re.fullmatch(r"[0-9]{3}", bank_code):
        raise InvalidBoleto(f"bank code must be 3 digits, got {bank_code!r}")
    if bank_code[0] == "8":
        raise InvalidBoleto("a bank code cannot start with 8 (that prefix is arrecadação)")
    if not isinstance(free_field, str) or not re.fullmatch(r"[0-9]{25}", free_field):
        raise InvalidBoleto("free field must be 25 digits")
    if not 0 <= amount_cents <= _MAX_BANK_AMOUNT:
        raise InvalidBoleto(f"amount must be between 0 and {_MAX_BANK_AMOUNT} centavos, got {amount_cents}")
    factor = 0 if due_date is None else due_factor(due_date)
    body = f"{bank_code}9{factor:04d}{amount_cents:010d}{free_field}"
    barcode = body[:4] + str(_mod11_bank(body)) + body[4:]
    return parse(barcode, today=due_date)


# ---------------------------------------------------------------------------------------- presenting


def _as_boleto(boleto_or_code: Boleto | str) -> Boleto:
    return boleto_or_code if isinstance(boleto_or_code, Boleto) else parse(boleto_or_code)


def format_linha(boleto_or_digits: Boleto | str) -> str:
    """The line as printed on a boleto.

    Bank: "AAAAA.AAAAA BBBBB.BBBBBB CCCCC.CCCCCC D EEEEEEEEEEEEEE"; arrecadação:
    "XXXXXXXXXXX-X XXXXXXXXXXX-X XXXXXXXXXXX-X XXXXXXXXXXX-X". A str is parsed (and validated) first,
    so a barcode gives its line.
    """
    line = _as_boleto(boleto_or_digits).linha_digitavel
    if len(line) == 48:
        return " ".join(f"{line[i : i + 11]}-{line[i + 11]}" for i in range(0, 48, 12))
    return (
        f"{line[:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} {line[21:26]}.{line[26:32]} "
        f"{line[32]} {line[33:]}"
    )


def barcode_png(boleto: Boleto | str, *, with_text: bool = False) -> bytes:
    """The barcode as a PNG: Interleaved 2 of 5, wide bars 3 times the narrow ones.

    About 890 x 170 pixels (2 px narrow bars, 40 px quiet zones), readable by a bank app's scanner on a
    phone screen. `with_text` prints the 44 digits under the bars. A str is parsed (and validated) first.
    """
    from barcode.itf import ITF
    from barcode.writer import ImageWriter, mm2px

    class CrispImageWriter(ImageWriter):
        """python-barcode's ImageWriter truncates float pixel edges, so rounding drift makes some 2 px bars
        1 px wide; this one rounds every edge to the nearest pixel."""

        def _paint_module(self, xpos: float, ypos: float, width: float, color: object) -> None:
            left, right = round(mm2px(xpos, self.dpi)), round(mm2px(xpos + width, self.dpi))
            top, bottom = round(mm2px(ypos, self.dpi)), round(mm2px(ypos + self.module_height, self.dpi))
            self._draw.rectangle([(left, top), (right - 1, bottom)], outline=color, fill=color)

    code = _as_boleto(boleto).barcode
    # At 254 dpi a millimetre is 10 px: 0.2 mm modules are 2 px.
    options = {
        "module_width": 0.2,
        "module_height": 15.0,
        "quiet_zone": 4.0,
        "margin_top": 1.0,
        "margin_bottom": 1.0,
        "write_text": with_text,
        "font_size": 8,
        "text_distance": 3.0,
    }
    writer = CrispImageWriter(format="PNG", mode="L", dpi=254)
    image = ITF(code, writer=writer, narrow=1, wide=3).render(options)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
