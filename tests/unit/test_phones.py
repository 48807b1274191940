"""Tests for bot.phones: E.164 normalization, the Brazilian 9th digit, Twilio addresses, DDD/UF/time zone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import timezone as pn_timezone

from bot.phones import (
    DDD_TIMEZONE,
    DDD_TO_UF,
    DEFAULT_TIMEZONE,
    Address,
    InvalidPhone,
    br_mobile_variants,
    ddd,
    is_mobile,
    normalize_phone,
    normalize_wa_id,
    parse_address,
    state_for_phone,
    timezone_for_phone,
)

ALL_UFS = {
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
}  # fmt: skip

# A fixed instant: Brazil has had no daylight saving time since 2019, so any date works.
_INSTANT = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def _utc_offset_hours(zone: str) -> float:
    offset = _INSTANT.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return offset / timedelta(hours=1)


# ------------------------------------------------------------------------------------- normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("+5511987654321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("5511987654321", "+5511987654321"),
        ("(11) 98765-4321", "+5511987654321"),
        ("011 98765-4321", "+5511987654321"),
        ("0xx11 98765-4321", "+5511987654321"),
        ("0XX11987654321", "+5511987654321"),
        ("0 21 11 98765-4321", "+5511987654321"),  # with a long-distance carrier code
        ("tel:+55-11-98765-4321", "+5511987654321"),
        ("whatsapp:+5511987654321", "+5511987654321"),
        ("WhatsApp:+5511987654321", "+5511987654321"),
        ("  +55 11 98765 4321  ", "+5511987654321"),
        # Old mobile numbers without the 9th digit get it.
        ("(11) 8765-4321", "+5511987654321"),
        ("1187654321", "+5511987654321"),
        ("551187654321", "+5511987654321"),
        ("+551187654321", "+5511987654321"),
        ("whatsapp:+551187654321", "+5511987654321"),
        ("0xx11 8765-4321", "+5511987654321"),
        ("+55 47 9912-3456", "+5547999123456"),
        ("+55 68 6123-4567", "+5568961234567"),
        ("+55 21 7987-4321", "+5521979874321"),  # libphonenumber accepts 7xxx-xxxx as is; we canonicalize
        # Landlines (8 digits starting 2-5) are left alone.
        ("(11) 3456-7890", "+551134567890"),
        ("(11) 5987-4321", "+551159874321"),
        ("+55 61 2345-6789", "+556123456789"),
        # DDD 55 (RS) must not be mistaken for the country code.
        ("55987654321", "+5555987654321"),
        ("5587654321", "+5555987654321"),
        ("+55 55 98765-4321", "+5555987654321"),
        # Non-geographic Brazilian numbers.
        ("0800 123 4567", "+558001234567"),
        # Foreign numbers.
        ("+1 650 253 0000", "+16502530000"),
        ("+351 912 345 678", "+351912345678"),
        ("whatsapp:+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected
    assert normalize_phone(expected) == expected  # idempotent


def test_normalize_phone_default_region():
    assert normalize_phone("(650) 253-0000", default_region="US") == "+16502530000"
    assert normalize_phone("+55 11 98765-4321", default_region="US") == "+5511987654321"
    assert normalize_phone("+551187654321", default_region=None) == "+5511987654321"
    with pytest.raises(InvalidPhone):
        normalize_phone("11987654321", default_region=None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("whatsapp:", "empty"),
        ("abc", "not a phone number"),
        ("seu número", "not a phone number"),
        ("+999 1234567", "country calling code"),
        ("+55 20 98765-4321", r"unknown Brazilian area code \(DDD\) 20"),
        ("(10) 98765-4321", r"\(DDD\) 10"),
        ("+55 11 1234", "too short"),
        ("+55 11 98765-43210", "wrong number of digits|too long"),
        ("12345", "too short"),
        ("16502530000", "invalid phone number"),  # a US number without "+" is not Brazilian
        ("+55 11 98765-4321 ramal 12", "not a phone number"),  # "ramal" is not understood: rejected anyway
        ("+55 11 98765-4321 ext. 12", "extension"),
        ("messenger:+5511987654321", "unsupported address prefix"),
    ],
)
def test_normalize_phone_invalid(raw, reason):
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(raw)


@pytest.mark.parametrize("bad", [None, 5511987654321, 11987654321.0, b"+5511987654321"])
def test_normalize_phone_rejects_non_text(bad):
    with pytest.raises(TypeError):
        normalize_phone(bad)


# ------------------------------------------------------------------------------------------- WaId


@pytest.mark.parametrize(
    ("wa_id", "expected"),
    [
        ("5511987654321", "+5511987654321"),
        ("551187654321", "+5511987654321"),  # old WhatsApp id without the 9th digit
        ("554799123456", "+5547999123456"),
        ("556881234567", "+5568981234567"),
        ("551134567890", "+551134567890"),  # WhatsApp Business on a landline: no 9 added
        ("16502530000", "+16502530000"),  # a WaId always carries its country code
        ("351912345678", "+351912345678"),
        (" 5511987654321 ", "+5511987654321"),
        ("+5511987654321", "+5511987654321"),
    ],
)
def test_normalize_wa_id(wa_id, expected):
    assert normalize_wa_id(wa_id) == expected


@pytest.mark.parametrize("wa_id", ["", "abc", "55 11 98765-4321", "whatsapp:+5511987654321", "5520987654321"])
def test_normalize_wa_id_invalid(wa_id):
    with pytest.raises(InvalidPhone):
        normalize_wa_id(wa_id)


# --------------------------------------------------------------------------------------- variants


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+5511987654321", ["+5511987654321", "+551187654321"]),
        ("+551187654321", ["+5511987654321", "+551187654321"]),
        ("whatsapp:+551187654321", ["+5511987654321", "+551187654321"]),
        ("+5547999123456", ["+5547999123456", "+554799123456"]),
        ("+5521979874321", ["+5521979874321", "+552179874321"]),
        ("+5511912345678", ["+5511912345678"]),  # 9 1xxx: never had an 8-digit form
        ("+5511951234567", ["+5511951234567"]),
        ("+551134567890", ["+551134567890"]),  # landline
        ("+558001234567", ["+558001234567"]),  # toll free
        ("+16502530000", ["+16502530000"]),  # foreign
    ],
)
def test_br_mobile_variants(number, expected):
    variants = br_mobile_variants(number)
    assert variants == expected
    assert all(normalize_phone(v) == variants[0] for v in variants)


def test_variants_match_a_wa_id_to_a_stored_number():
    stored = normalize_phone("(21) 99876-5432")
    wa_id = "552198765432"  # what Twilio sends for an account created before the 9th digit
    assert f"+{wa_id}" in br_mobile_variants(stored)
    assert normalize_wa_id(wa_id) == stored


def test_variants_reject_garbage():
    with pytest.raises(InvalidPhone):
        br_mobile_variants("not a number")


# -------------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("raw", "channel", "e164", "canonical"),
    [
        ("whatsapp:+5511987654321", "whatsapp", "+5511987654321", "+5511987654321"),
        ("+5511987654321", "sms", "+5511987654321", "+5511987654321"),
        ("whatsapp:+551187654321", "whatsapp", "+551187654321", "+5511987654321"),  # old id kept as is
        ("whatsapp:+16502530000", "whatsapp", "+16502530000", "+16502530000"),
        ("+16502530000", "sms", "+16502530000", "+16502530000"),
        ("+551134567890", "sms", "+551134567890", "+551134567890"),
    ],
)
def test_parse_address(raw, channel, e164, canonical):
    address = parse_address(raw)
    assert address == Address(channel=channel, e164=e164)
    assert address.twilio == raw  # round trip
    assert address.canonical_e164 == canonical
    assert parse_address(address.twilio) == address


def test_parse_address_cleans_sloppy_values():
    assert parse_address(" WhatsApp:+55 (11) 98765-4321 ") == Address("whatsapp", "+5511987654321")
    # A "+" decoded as a space by a careless form parser.
    assert parse_address("whatsapp: 5511987654321") == Address("whatsapp", "+5511987654321")


@pytest.mark.parametrize(
    "raw", ["", "whatsapp:", "whatsapp:abc", "messenger:+5511987654321", "+55 20 98765-4321", "sms"]
)
def test_parse_address_invalid(raw):
    with pytest.raises(InvalidPhone):
        parse_address(raw)


def test_address_validates_and_is_frozen():
    with pytest.raises(ValueError, match="channel"):
        Address(channel="fax", e164="+5511987654321")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="e164"):
        Address(channel="sms", e164="5511987654321")
    with pytest.raises(ValueError, match="e164"):
        Address(channel="sms", e164="+55 11 98765-4321")
    address = Address(channel="sms", e164="+5511987654321")
    with pytest.raises(dataclasses.FrozenInstanceError):
        address.e164 = "+5511900000000"  # type: ignore[misc]
    assert Address("whatsapp", "+5511987654321").twilio == "whatsapp:+5511987654321"
    assert address.twilio == "+5511987654321"


# -------------------------------------------------------------------------------- DDD, UF, time zone


def test_ddd_table_is_complete():
    assert len(DDD_TO_UF) == 67
    assert set(DDD_TO_UF.values()) == ALL_UFS
    assert set(DDD_TIMEZONE) == set(DDD_TO_UF)


def test_ddd_table_matches_libphonenumber():
    """A DDD is in our table exactly when libphonenumber accepts mobile numbers in it."""
    accepted = {
        code
        for code in range(10, 100)
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+55{code}987654321"))
    }
    assert accepted == set(DDD_TO_UF)


@pytest.mark.parametrize(
    ("number", "expected_ddd", "uf"),
    [
        ("+5511987654321", 11, "SP"),
        ("+551934567890", 19, "SP"),
        ("+5521987654321", 21, "RJ"),
        ("+5527987654321", 27, "ES"),
        ("+5531987654321", 31, "MG"),
        ("+5541987654321", 41, "PR"),
        ("+5548987654321", 48, "SC"),
        ("+5551987654321", 51, "RS"),
        ("+5561987654321", 61, "DF"),
        ("+5562987654321", 62, "GO"),
        ("+5563987654321", 63, "TO"),
        ("+5565987654321", 65, "MT"),
        ("+5566987654321", 66, "MT"),
        ("+5567987654321", 67, "MS"),
        ("+5568987654321", 68, "AC"),
        ("+5569987654321", 69, "RO"),
        ("+5571987654321", 71, "BA"),
        ("+5579987654321", 79, "SE"),
        ("+5581987654321", 81, "PE"),
        ("+5582987654321", 82, "AL"),
        ("+5583987654321", 83, "PB"),
        ("+5584987654321", 84, "RN"),
        ("+5585987654321", 85, "CE"),
        ("+5586987654321", 86, "PI"),
        ("+5591987654321", 91, "PA"),
        ("+5592987654321", 92, "AM"),
        ("+5595987654321", 95, "RR"),
        ("+5596987654321", 96, "AP"),
        ("+5597987654321", 97, "AM"),
        ("+5598987654321", 98, "MA"),
        ("551187654321", 11, "SP"),  # works on the old form too
    ],
)
def test_ddd_and_state(number, expected_ddd, uf):
    assert ddd(number) == expected_ddd
    assert state_for_phone(number) == uf


@pytest.mark.parametrize("number", ["+16502530000", "+558001234567", "+351912345678"])
def test_no_ddd_for_foreign_or_non_geographic_numbers(number):
    assert ddd(number) is None
    assert state_for_phone(number) is None
    assert timezone_for_phone(number) == DEFAULT_TIMEZONE


@pytest.mark.parametrize("func", [ddd, state_for_phone, timezone_for_phone, is_mobile])
def test_lookups_reject_garbage(func):
    with pytest.raises(InvalidPhone):
        func("garbage")


@pytest.mark.parametrize(
    ("number", "zone", "utc_offset"),
    [
        ("+5568987654321", "America/Rio_Branco", -5),  # AC
        ("+5592987654321", "America/Manaus", -4),  # AM, Manaus
        ("+5597987654321", "America/Manaus", -4),  # AM interior: majority UTC-4 (documented)
        ("+5565987654321", "America/Cuiaba", -4),  # MT
        ("+5566987654321", "America/Cuiaba", -4),  # MT
        ("+5567987654321", "America/Campo_Grande", -4),  # MS
        ("+5569987654321", "America/Porto_Velho", -4),  # RO
        ("+5595987654321", "America/Boa_Vista", -4),  # RR
        ("+5511987654321", "America/Sao_Paulo", -3),  # SP
        ("+551134567890", "America/Sao_Paulo", -3),  # SP landline
        ("+5581987654321", "America/Recife", -3),  # PE (Noronha can't be told apart)
        ("+5587987654321", "America/Recife", -3),  # PE interior
        ("+5585987654321", "America/Fortaleza", -3),  # CE
        ("+5571987654321", "America/Bahia", -3),  # BA
        ("+5582987654321", "America/Maceio", -3),  # AL
        ("+5591987654321", "America/Belem", -3),  # PA
        ("+5593987654321", "America/Santarem", -3),  # western PA: UTC-3 since 2008
        ("+5563987654321", "America/Araguaina", -3),  # TO
        ("+5561987654321", "America/Sao_Paulo", -3),  # DF
    ],
)
def test_timezone_for_phone(number, zone, utc_offset):
    assert timezone_for_phone(number) == zone
    assert _utc_offset_hours(zone) == utc_offset


def test_every_ddd_zone_is_a_real_brazilian_offset():
    for code, zone in DDD_TIMEZONE.items():
        assert _utc_offset_hours(zone) in (-5, -4, -3), code


# libphonenumber's time-zone data disagrees with the real offset for these DDDs (see bot/phones.py).
_LIBPHONENUMBER_TZ_ERRATA = {81, 93, 94}


def test_timezone_offsets_agree_with_libphonenumber_elsewhere():
    for code, zone in DDD_TIMEZONE.items():
        if code in _LIBPHONENUMBER_TZ_ERRATA:
            continue
        theirs = pn_timezone.time_zones_for_number(phonenumbers.parse(f"+55{code}987654321"))
        assert len(theirs) == 1, code
        assert _utc_offset_hours(theirs[0]) == _utc_offset_hours(zone), code


# ------------------------------------------------------------------------------------------ mobile


@pytest.mark.parametrize(
    ("number", "mobile"),
    [
        ("+5511987654321", True),
        ("+551187654321", True),  # old form: it is a mobile
        ("whatsapp:+5547999123456", True),
        ("+551134567890", False),  # landline
        ("+558001234567", False),  # toll free
        ("+16502530000", True),  # US: FIXED_LINE_OR_MOBILE
        ("+351912345678", True),
        ("+442079460958", False),
    ],
)
def test_is_mobile(number, mobile):
    assert is_mobile(number) is mobile
