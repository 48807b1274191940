"""Tests for bot.documents: CPF and CNPJ normalization, validation, formatting and masking."""

from __future__ import annotations

import pytest

from bot.documents import (
    InvalidDocument,
    format_cnpj,
    format_cpf,
    is_valid_cnpj,
    is_valid_cpf,
    mask_cpf,
    normalize_cnpj,
    normalize_cpf,
)


def _cpf_check_digits(base9: str) -> str:
    """Reference implementation (independent of validate_docbr) of the two CPF check digits."""
    digits = [int(c) for c in base9]
    for _ in range(2):
        weight = len(digits) + 1
        total = sum(d * (weight - i) for i, d in enumerate(digits))
        digits.append((total * 10) % 11 % 10)
    return "".join(str(d) for d in digits[9:])


def _cnpj_check_digits(base12: str) -> str:
    """Reference implementation of the CNPJ check digits (numeric and alphanumeric: value = ord(c) - 48)."""
    values = [ord(c) - 48 for c in base12]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        values.append(0 if remainder < 2 else 11 - remainder)
    return f"{values[12]}{values[13]}"


# ---------------------------------------------------------------------------------------------- CPF


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123.456.789-09", "12345678909"),
        ("12345678909", "12345678909"),
        (" 123 456 789 09 ", "12345678909"),
        ("123.456.789 - 09", "12345678909"),
        ("111.444.777-35", "11144477735"),
        ("012.345.678-90", "01234567890"),  # leading zero, typed with its mask
        ("01234567890", "01234567890"),
        ("1234567890", "01234567890"),  # spreadsheet dropped one leading zero
        (1234567890, "01234567890"),  # ... and handed us an int
        ("123456797", "00123456797"),  # two leading zeros dropped
        (" 1234567890\n", "01234567890"),
    ],
)
def test_normalize_cpf_valid(raw, expected):
    assert normalize_cpf(raw) == expected
    assert is_valid_cpf(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("111.111.111-11", "all digits equal"),
        ("00000000000", "all digits equal"),
        ("99999999999", "all digits equal"),
        ("0000000000", "all digits equal"),  # padded to eleven zeros
        ("123.456.789-00", "check digits"),
        ("123.456.789-19", "check digits"),
        ("12345678908", "check digits"),
        ("1234567891", "zero-padded"),  # 10 digits, padded value is not a CPF
        ("123.456.789-0", "11 digits, got 10"),  # masked input is never padded
        ("12345678", "11 digits, got 8"),  # three lost zeros: beyond the limit
        ("123456789090", "11 digits, got 12"),
        ("123.456.789/09", "only digits"),
        ("123.456.789-O9", "only digits"),  # letter O
        ("CPF 12345678909", "only digits"),
        ("１２３４５６７８９０９", "only digits"),  # full-width digits
        (-1234567890, "negative"),
    ],
)
def test_normalize_cpf_invalid(raw, message):
    with pytest.raises(InvalidDocument, match=message) as excinfo:
        normalize_cpf(raw)
    assert not is_valid_cpf(raw)
    digits = "".join(c for c in str(raw) if c.isdigit())
    if len(digits) >= 8:
        assert digits not in str(excinfo.value), "the error message must not leak the CPF"


def test_zero_padding_can_be_disabled():
    assert normalize_cpf("01234567890", allow_zero_padding=False) == "01234567890"
    with pytest.raises(InvalidDocument, match="got 10"):
        normalize_cpf("1234567890", allow_zero_padding=False)
    assert not is_valid_cpf("1234567890", allow_zero_padding=False)


@pytest.mark.parametrize("bad", [12345678909.0, None, b"12345678909", True, ["12345678909"]])
def test_normalize_cpf_rejects_non_text(bad):
    with pytest.raises(TypeError):
        normalize_cpf(bad)
    assert is_valid_cpf(bad) is False


@pytest.mark.parametrize(
    "base", ["123456789", "111444777", "000000001", "987654321", "529982247", "000123456"]
)
def test_cpf_check_digits_agree_with_reference(base):
    good = base + _cpf_check_digits(base)
    assert normalize_cpf(good) == good
    for position in (9, 10):
        for wrong in "0123456789":
            if wrong == good[position]:
                continue
            bad = good[:position] + wrong + good[position + 1 :]
            assert not is_valid_cpf(bad), bad


def test_cpf_single_digit_typo_is_caught():
    good = "52998224725"
    for position in range(9):
        for wrong in "0123456789":
            if wrong != good[position]:
                typo = good[:position] + wrong + good[position + 1 :]
                assert not is_valid_cpf(typo), typo


@pytest.mark.parametrize(
    ("raw", "formatted", "masked"),
    [
        ("12345678909", "123.456.789-09", "***.456.789-**"),
        ("123.456.789-09", "123.456.789-09", "***.456.789-**"),
        ("1234567890", "012.345.678-90", "***.345.678-**"),
        ("52998224725", "529.982.247-25", "***.982.247-**"),
    ],
)
def test_format_and_mask_cpf(raw, formatted, masked):
    assert format_cpf(raw) == formatted
    assert mask_cpf(raw) == masked
    assert normalize_cpf(format_cpf(raw)) == normalize_cpf(raw)  # round trip
    assert normalize_cpf(raw) not in mask_cpf(raw).replace(".", "").replace("-", "")


@pytest.mark.parametrize("func", [format_cpf, mask_cpf])
def test_format_and_mask_cpf_reject_invalid(func):
    with pytest.raises(InvalidDocument):
        func("123.456.789-00")


# --------------------------------------------------------------------------------------------- CNPJ


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.345.678/0001-95", "12345678000195"),
        ("12345678000195", "12345678000195"),
        ("11.222.333/0001-81", "11222333000181"),
        (" 11 222 333 0001 81 ", "11222333000181"),
        ("00.360.305/0001-04", "00360305000104"),
        ("360305000104", "00360305000104"),  # Caixa's CNPJ from a spreadsheet: two zeros lost
        ("0360305000104", "00360305000104"),
        (360305000104, "00360305000104"),
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),  # alphanumeric CNPJ (Receita Federal's example)
        ("12.abc.345/01de-35", "12ABC34501DE35"),
        ("12ABC34501DE35", "12ABC34501DE35"),
    ],
)
def test_normalize_cnpj_valid(raw, expected):
    assert normalize_cnpj(raw) == expected
    assert is_valid_cnpj(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("00.000.000/0000-00", "all characters equal"),
        ("11.111.111/1111-11", "all characters equal"),
        ("11.222.333/0001-82", "check digits do not match"),
        ("12.345.678/0001-59", "check digits do not match"),
        ("12.ABC.345/01DE-36", "check digits do not match"),
        ("12.ABC.345/01DE-3A", "must be digits"),
        ("360305000105", "zero-padded"),
        ("191", "14 characters, got 3"),  # Banco do Brasil lost 11 zeros: not guessed
        ("12.345.678/0001", "14 characters, got 12"),  # masked input is never padded
        ("12.345.678/0001-955", "14 characters, got 15"),
        ("12#345.678/0001-95", "only letters, digits"),
        ("12.ÁBC.345/01DE-35", "only letters, digits"),
    ],
)
def test_normalize_cnpj_invalid(raw, message):
    with pytest.raises(InvalidDocument, match=message):
        normalize_cnpj(raw)
    assert not is_valid_cnpj(raw)


@pytest.mark.parametrize(
    "base", ["112223330001", "123456780001", "12ABC34501DE", "A1B2C3D4E5F6", "000000000001"]
)
def test_cnpj_check_digits_agree_with_reference(base):
    good = base + _cnpj_check_digits(base)
    assert normalize_cnpj(good) == good
    wrong_last = good[:13] + str((int(good[13]) + 1) % 10)
    assert not is_valid_cnpj(wrong_last)


def test_cnpj_rejects_float():
    with pytest.raises(TypeError):
        normalize_cnpj(12345678000195.0)


@pytest.mark.parametrize(
    ("raw", "formatted"),
    [
        ("12345678000195", "12.345.678/0001-95"),
        ("11.222.333/0001-81", "11.222.333/0001-81"),
        ("360305000104", "00.360.305/0001-04"),
        ("12abc34501de35", "12.ABC.345/01DE-35"),
    ],
)
def test_format_cnpj(raw, formatted):
    assert format_cnpj(raw) == formatted
    assert normalize_cnpj(format_cnpj(raw)) == normalize_cnpj(raw)


def test_cpf_is_not_a_cnpj_and_vice_versa():
    assert not is_valid_cnpj("123.456.789-09")
    assert not is_valid_cpf("12.345.678/0001-95")
