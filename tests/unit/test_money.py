"""Tests for bot.money: amounts are int centavos, parsed from Brazilian text and formatted back."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest

from bot.money import InvalidAmount, cents_to_decimal, decimal_to_cents, format_brl, parse_amount

# ------------------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        # Brazilian format.
        ("1.234,56", 123456),
        ("1234,56", 123456),
        ("R$ 1.234,56", 123456),
        ("R$1.234,56", 123456),
        ("r$ 1.234,56", 123456),
        ("R$\u00a01.234,56", 123456),  # no-break space, as Excel and Intl write it
        ("  R$   1.234,56  ", 123456),
        ("1.234.567,89", 123456789),
        ("0,5", 50),
        ("0,05", 5),
        ("0,50", 50),
        (",50", 50),
        ("10,1", 1010),
        # No separator: whole reais.
        ("1234", 123400),
        ("0", 0),
        ("00150", 15000),
        ("R$ 99", 9900),
        # Only dots: the ambiguous case.
        ("1.234", 123400),  # thousands
        ("R$1.234", 123400),
        ("1.500", 150000),
        ("1.234.567", 123456700),
        ("12.34", 1234),  # decimal point: 1 or 2 digits after a single dot
        ("1234.56", 123456),
        ("12.3", 1230),
        ("0.5", 50),
        (".99", 99),
        # English format with both separators.
        ("1,234.56", 123456),
        ("1,234,567.89", 123456789),
    ],
)
def test_parse_amount_text(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("-1,00", -100),
        ("-R$ 1,00", -100),
        ("- R$ 1.234,56", -123456),
        ("R$ -1,00", -100),
        ("-0,01", -1),
        ("-1.234", -123400),
    ],
)
def test_parse_amount_negative(text, cents):
    assert parse_amount(text, allow_negative=True) == cents
    with pytest.raises(InvalidAmount, match="negative"):
        parse_amount(text)


def test_negative_zero_is_zero():
    assert parse_amount("-0,00") == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("R$", "not an amount"),
        ("abc", "not an amount"),
        ("R$ abc", "not an amount"),
        ("dez reais", "not an amount"),
        ("1,234", "more than 2 decimal places"),  # a comma is always decimal
        ("12,345", "more than 2 decimal places"),
        ("1.234,567", "more than 2 decimal places"),
        ("12.3456", "more than 2 decimal places"),
        ("0.500", "more than 2 decimal places"),  # "0" cannot lead a thousands group
        ("1.23.45", "not an amount"),
        ("12.34,56", "not an amount"),  # bad thousands group
        ("1.2345,67", "not an amount"),
        ("1,234,567", "not an amount"),  # only commas: ambiguous, rejected
        ("1,23,45", "not an amount"),
        ("1.234,56.78", "not an amount"),
        ("1,234.567", "more than 2 decimal places"),
        ("1.", "not an amount"),
        ("1,", "not an amount"),
        (",", "not an amount"),
        (".", "not an amount"),
        ("1 234,56", "not an amount"),
        ("1e3", "not an amount"),
        ("+10", "not an amount"),
        ("--1", "not an amount"),
        ("-R$ -1", "not an amount"),
        ("R$ 10 reais", "not an amount"),
        ("１２", "not an amount"),  # full-width digits
        ("US$ 10", "not an amount"),
    ],
)
def test_parse_amount_rejects(text, reason):
    with pytest.raises(InvalidAmount, match=reason):
        parse_amount(text, allow_negative=True)


@pytest.mark.parametrize(("cents", "expected"), [(0, 0), (1, 1), (123456, 123456), (10**15, 10**15)])
def test_ints_are_centavos(cents, expected):
    assert parse_amount(cents) == expected


def test_negative_int():
    assert parse_amount(-500, allow_negative=True) == -500
    with pytest.raises(InvalidAmount, match="negative"):
        parse_amount(-500)


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (Decimal("12.34"), 1234),
        (Decimal("1234.5"), 123450),
        (Decimal("1.230"), 123),  # trailing zeros are fine
        (Decimal("100"), 10000),
        (Decimal("1E+2"), 10000),
        (Decimal("0.01"), 1),
        (Decimal("0"), 0),
    ],
)
def test_parse_amount_decimal_is_reais(value, cents):
    assert parse_amount(value) == cents


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("0.005"), "more than 2 decimal places"),
        (Decimal("12.345"), "more than 2 decimal places"),
        (Decimal("1.00000000000000000000000000000001"), "more than 2 decimal places"),  # beyond 28 digits
        (Decimal("NaN"), "not an amount"),
        (Decimal("Infinity"), "not an amount"),
        (Decimal("-1.00"), "negative"),
    ],
)
def test_parse_amount_decimal_rejects(value, reason):
    with pytest.raises(InvalidAmount, match=reason):
        parse_amount(value)


@pytest.mark.parametrize("bad", [1.5, 0.0, float("nan"), True, False, None, [1], b"1,00"])
def test_parse_amount_type_errors(bad):
    with pytest.raises(TypeError):
        parse_amount(bad)


def test_float_error_says_why():
    with pytest.raises(TypeError, match="never a float"):
        parse_amount(12.34)


# ------------------------------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "R$ 0,00"),
        (1, "R$ 0,01"),
        (5, "R$ 0,05"),
        (50, "R$ 0,50"),
        (100, "R$ 1,00"),
        (99999, "R$ 999,99"),
        (100000, "R$ 1.000,00"),
        (123456, "R$ 1.234,56"),
        (123456789, "R$ 1.234.567,89"),
        (100000000000, "R$ 1.000.000.000,00"),
        (-1, "-R$ 0,01"),
        (-100, "-R$ 1,00"),
        (-123456, "-R$ 1.234,56"),
    ],
)
def test_format_brl(cents, text):
    formatted = format_brl(cents)
    assert formatted == text
    assert "\u00a0" not in formatted and "\u202f" not in formatted
    assert parse_amount(formatted, allow_negative=True) == cents  # round trip


@pytest.mark.parametrize(
    "cents", list(range(-1005, 1006, 7)) + [10**n + k for n in range(2, 14) for k in (-1, 0, 1)]
)
def test_format_parse_round_trip(cents):
    assert parse_amount(format_brl(cents), allow_negative=True) == cents


@pytest.mark.parametrize("bad", [1.0, Decimal("1.00"), "100", True, None])
def test_format_brl_type_errors(bad):
    with pytest.raises(TypeError):
        format_brl(bad)


# ------------------------------------------------------------------------------- Decimal conversion


@pytest.mark.parametrize(
    ("cents", "decimal_text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (100, "1.00"),
        (123456, "1234.56"),
        (-5, "-0.05"),
        (10**14, "1000000000000.00"),
    ],
)
def test_cents_to_decimal(cents, decimal_text):
    value = cents_to_decimal(cents)
    assert isinstance(value, Decimal)
    assert str(value) == decimal_text
    assert value.as_tuple().exponent == -2
    assert decimal_to_cents(value) == cents
    assert parse_amount(value, allow_negative=True) == cents


@pytest.mark.parametrize(
    ("value", "half_up", "half_even", "down"),
    [
        (Decimal("1.234"), 123, 123, 123),
        (Decimal("1.235"), 124, 124, 123),
        (Decimal("1.245"), 125, 124, 124),
        (Decimal("1.2449999"), 124, 124, 124),
        (Decimal("0.005"), 1, 0, 0),
        (Decimal("0.0049"), 0, 0, 0),
        (Decimal("-0.005"), -1, 0, 0),  # half-up rounds away from zero
        (Decimal("-1.235"), -124, -124, -123),
        (Decimal("12.34"), 1234, 1234, 1234),
        (Decimal("7"), 700, 700, 700),
        # 35 significant digits: must round once, on the exact value (the default context has 28).
        (Decimal("0.00499999999999999999999999999999999"), 0, 0, 0),
        (Decimal("1E+30"), 10**32, 10**32, 10**32),
    ],
)
def test_decimal_to_cents_rounding(value, half_up, half_even, down):
    assert decimal_to_cents(value) == half_up
    assert decimal_to_cents(value, rounding=ROUND_HALF_UP) == half_up
    assert decimal_to_cents(value, rounding=ROUND_HALF_EVEN) == half_even
    assert decimal_to_cents(value, rounding=ROUND_DOWN) == down


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("-Infinity")])
def test_decimal_to_cents_rejects_non_finite(bad):
    with pytest.raises(InvalidAmount):
        decimal_to_cents(bad)


@pytest.mark.parametrize(
    ("func", "bad"), [(cents_to_decimal, 1.0), (cents_to_decimal, True), (cents_to_decimal, "1")]
)
def test_cents_to_decimal_type_errors(func, bad):
    with pytest.raises(TypeError):
        func(bad)


@pytest.mark.parametrize("bad", [1.0, 100, "1.00", None])
def test_decimal_to_cents_type_errors(bad):
    with pytest.raises(TypeError):
        decimal_to_cents(bad)
