"""Tests for bot.payments.pix, built on public vectors (each cites where it comes from).

Sources:

* [BCB] Banco Central do Brasil, "Manual de Padrões para Iniciação do Pix", BR Code example (static
  code, key 123e4567-e12b-12d1-a456-426655440000, "Fulano de Tal", "BRASILIA", CRC 1D3D):
  https://www.bcb.gov.br/content/estabilidadefinanceira/pix/Regulamento_Pix/II_ManualdePadroesparaIniciacaodoPix.pdf
* [starkbank] GitHub starkbank/brcode-python: tests/brcode/testStaticBrcode.py (amount, accented city,
  txid) and brcode/tests/brcodeTests/testStaticBrcode.py (a name longer than 25 characters, truncated).
* [pypix] GitHub cleitonleonel/pypix, tests/test_pix_parser.py: codes with point of initiation (01),
  a message (26/02), postal code (61), amounts, a dynamic code (26/25 URL) and a corrupted CRC.
* [CRC catalogue] https://reveng.sourceforge.io/crc-catalogue/16.htm, CRC-16/IBM-3740 (alias
  CRC-16/CCITT-FALSE): poly 0x1021, init 0xFFFF, check value of "123456789" = 0x29B1.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.payments import pix
from bot.payments.pix import InvalidBRCode

BCB_KEY = "123e4567-e12b-12d1-a456-426655440000"
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
STARK = (
    "00020126360014br.gov.bcb.pix0114arya@stark.com5204000053039865406125.005802BR5910Arya Stark"
    "6009Sao Paulo622005161297364819273409630440F2"
)
STARK_LONG_NAME = (
    "00020126360014br.gov.bcb.pix0114arya@stark.com5204000053039865406125.005802BR"
    "5925Arya Stark with a very lo6009Sao Paulo62290525verylongreconciliationidt630466F4"
)
PYPIX_PHONE = (
    "00020101021126690014br.gov.bcb.pix0114+55279957722910229Doacao Livre / QRCODE - PYPIX"
    "52040000530398654045.005802BR5905Teste6009Cariacica61082914861362130509PIXMP00016304325F"
)
PYPIX_RANDOM_KEY = (
    "00020101021126910014br.gov.bcb.pix0136b5fe1edc-d108-410f-b966-eccaaca75e4f0229Doacao Livre / QRCODE"
    " - PYPIX52040000530398654040.015802BR5921Cleiton Leonel Creton6009Cariacica62070503***63045A49"
)
PYPIX_DYNAMIC = (
    "00020101021226450014br.gov.bcb.pix2523bitsorbyte.com.br/login5204000053039865802BR"
    "5916TESOURO NACIONAL6008BRASILIA62070503***63042D75"
)


def with_crc(body: str) -> str:
    """`body` (everything before the CRC value, ending in 6304) completed with its CRC."""
    assert body.endswith("6304")
    return body + pix.crc16(body)


def field(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


# ------------------------------------------------------------------------------------------- CRC


def test_crc16_is_ccitt_false() -> None:
    assert pix.crc16("123456789") == "29B1"  # the catalogue's check value
    assert pix.crc16(BCB_EXAMPLE[:-4]) == "1D3D"
    assert pix.crc16("") == "FFFF"  # the initial value, nothing shifted in


# ------------------------------------------------------------------------------------------ build


def test_build_reproduces_the_banco_central_example_byte_for_byte() -> None:
    assert pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA") == BCB_EXAMPLE


def test_build_reproduces_starkbank_with_amount_accents_and_txid() -> None:
    code = pix.build_brcode(
        "arya@stark.com", "Arya Stark", "São Paulo", amount_cents=12500, txid="1297364819273409"
    )
    assert code == STARK


def test_build_truncates_a_long_name_like_starkbank() -> None:
    # starkbank also cuts the txid "verylongreconciliationidtotestfieldlength" to 25 characters; this
    # module rejects a txid that is too long instead (next tests), so it is given already cut.
    code = pix.build_brcode(
        "arya@stark.com",
        "Arya Stark with a very long name",
        "São Paulo",
        amount_cents=12500,
        txid="verylongreconciliationidt",
    )
    assert code == STARK_LONG_NAME


@pytest.mark.parametrize(
    ("amount", "text"),
    [(1, "0.01"), (10, "0.10"), (100, "1.00"), (1050, "10.50"), (123456, "1234.56"),
     (999_999_999_999, "9999999999.99")],
)  # fmt: skip
def test_amount_is_written_with_two_decimals(amount: int, text: str) -> None:
    code = pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", amount_cents=amount)
    assert field("54", text) in code
    assert pix.parse_brcode(code)["amount_cents"] == amount


def test_amount_must_be_positive_int_centavos() -> None:
    with pytest.raises(TypeError, match="never a float"):
        pix.build_brcode(BCB_KEY, "Fulano", "BRASILIA", amount_cents=10.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pix.build_brcode(BCB_KEY, "Fulano", "BRASILIA", amount_cents=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pix.build_brcode(BCB_KEY, "Fulano", "BRASILIA", amount_cents="10,50")  # type: ignore[arg-type]
    for amount in (0, -100, 1_000_000_000_000):
        with pytest.raises(InvalidBRCode, match="amount"):
            pix.build_brcode(BCB_KEY, "Fulano", "BRASILIA", amount_cents=amount)


def test_accents_are_removed_and_limits_truncate_names_and_cities() -> None:
    code = pix.build_brcode(
        "12345678909", "Conceição Araújo Gonçalves Magalhães", "São José dos Pinhais", info="Fatura de março"
    )
    assert code.isascii()
    parsed = pix.parse_brcode(code)
    assert parsed["name"] == "Conceicao Araujo Goncalve"  # 25 characters, after removing accents
    assert parsed["city"] == "Sao Jose dos Pi"  # 15
    assert parsed["info"] == "Fatura de marco"


def test_truncation_drops_trailing_spaces_and_spaces_are_collapsed() -> None:
    parsed = pix.parse_brcode(
        pix.build_brcode(BCB_KEY, "  Maria   da Silva Pereira Santos", "Rio de  Janeiro")
    )
    assert (parsed["name"], parsed["city"]) == ("Maria da Silva Pereira Sa", "Rio de Janeiro")
    parsed = pix.parse_brcode(pix.build_brcode(BCB_KEY, "Loja", "Ribeirao Preto SP"))
    assert parsed["city"] == "Ribeirao Preto"  # the 15th character, a space, is dropped


@pytest.mark.parametrize("txid", ["", "HZ-250001", "pedido 1", "ção1", "a" * 26, "***x", "**"])
def test_invalid_txid_is_rejected(txid: str) -> None:
    with pytest.raises(InvalidBRCode, match="txid"):
        pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", txid=txid)


@pytest.mark.parametrize("txid", ["***", "A", "HZ25000001", "a" * 25, "0123456789abcdefABCDEF012"])
def test_valid_txids_round_trip(txid: str) -> None:
    assert pix.parse_brcode(pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", txid=txid))["txid"] == txid


def test_empty_key_and_empty_names_are_rejected() -> None:
    for key in ("", "   "):
        with pytest.raises(InvalidBRCode, match="key is empty"):
            pix.build_brcode(key, "Fulano de Tal", "BRASILIA")
    with pytest.raises(InvalidBRCode, match="key"):
        pix.build_brcode("a" * 78, "Fulano de Tal", "BRASILIA")
    with pytest.raises(InvalidBRCode, match="key"):
        pix.build_brcode("joão@example.com", "Fulano de Tal", "BRASILIA")
    with pytest.raises(InvalidBRCode, match="name is empty"):
        pix.build_brcode(BCB_KEY, " ", "BRASILIA")
    with pytest.raises(InvalidBRCode, match="city is empty"):
        pix.build_brcode(BCB_KEY, "Fulano de Tal", "")
    with pytest.raises(TypeError):
        pix.build_brcode(None, "Fulano de Tal", "BRASILIA")  # type: ignore[arg-type]


def test_characters_without_an_ascii_form_are_rejected() -> None:
    with pytest.raises(InvalidBRCode, match="merchant name"):
        pix.build_brcode(BCB_KEY, "Loja “Central”", "BRASILIA")
    with pytest.raises(InvalidBRCode, match="info"):
        pix.build_brcode(BCB_KEY, "Loja", "BRASILIA", info="Fatura de março — parcela 1")


def test_info_is_carried_in_the_merchant_account_and_must_fit() -> None:
    code = pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", info="Parcela 1/3")
    parsed = pix.parse_brcode(code)
    assert parsed["info"] == "Parcela 1/3" and parsed["merchant_account"]["02"] == "Parcela 1/3"
    assert pix.parse_brcode(pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", info="  "))["info"] is None
    # 99 characters in 26: 18 (GUI) + 40 (key) leave 41, i.e. 37 of message.
    assert pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", info="x" * 37)
    with pytest.raises(InvalidBRCode, match="field 26"):
        pix.build_brcode(BCB_KEY, "Fulano de Tal", "BRASILIA", info="x" * 38)


def test_built_codes_always_parse_back() -> None:
    for key, name, city, amount, txid, info in [
        ("+5511987654321", "Ana Lúcia", "Curitiba", 5990, "F1", None),
        (
            "41820537000185",
            "Magazine Horizonte Comércio Varejista Ltda.",
            "São Paulo",
            None,
            "***",
            "Obrigado",
        ),
        ("cobranca@example.com", "Ótica Ébano", "Águas de Lindóia", 1, "A" * 25, "Parcela 2/12"),
    ]:
        parsed = pix.parse_brcode(pix.build_brcode(key, name, city, amount, txid, info))
        assert (parsed["key"], parsed["amount_cents"], parsed["txid"]) == (key, amount, txid)
        assert parsed["url"] is None and len(parsed["name"]) <= 25 and len(parsed["city"]) <= 15


# ------------------------------------------------------------------------------------------ parse


def test_parse_the_banco_central_example() -> None:
    parsed = pix.parse_brcode(BCB_EXAMPLE)
    assert parsed["key"] == BCB_KEY
    assert (parsed["name"], parsed["city"], parsed["txid"]) == ("Fulano de Tal", "BRASILIA", "***")
    assert (parsed["amount_cents"], parsed["info"], parsed["url"], parsed["crc"]) == (
        None,
        None,
        None,
        "1D3D",
    )
    assert parsed["fields"] == {
        "00": "01",
        "26": "0014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000",
        "52": "0000",
        "53": "986",
        "58": "BR",
        "59": "Fulano de Tal",
        "60": "BRASILIA",
        "62": "0503***",
        "63": "1D3D",
    }
    assert parsed["merchant_account"] == {"00": "br.gov.bcb.pix", "01": BCB_KEY}
    assert parsed["additional_data"] == {"05": "***"}


@pytest.mark.parametrize(
    ("code", "key", "name", "city", "amount", "txid"),
    [
        (STARK, "arya@stark.com", "Arya Stark", "Sao Paulo", 12500, "1297364819273409"),
        (STARK_LONG_NAME, "arya@stark.com", "Arya Stark with a very lo", "Sao Paulo", 12500,
         "verylongreconciliationidt"),
        (PYPIX_PHONE, "+5527995772291", "Teste", "Cariacica", 500, "PIXMP0001"),
        (PYPIX_RANDOM_KEY, "b5fe1edc-d108-410f-b966-eccaaca75e4f", "Cleiton Leonel Creton", "Cariacica", 1,
         "***"),
    ],
)  # fmt: skip
def test_parse_public_static_codes(code: str, key: str, name: str, city: str, amount: int, txid: str) -> None:
    parsed = pix.parse_brcode(code)
    assert (parsed["key"], parsed["name"], parsed["city"], parsed["amount_cents"], parsed["txid"]) == (
        key,
        name,
        city,
        amount,
        txid,
    )


def test_parse_optional_fields_of_pypix() -> None:
    parsed = pix.parse_brcode(PYPIX_PHONE)
    assert parsed["info"] == "Doacao Livre / QRCODE - PYPIX"
    assert parsed["fields"]["01"] == "11" and parsed["fields"]["61"] == "29148613"


def test_parse_a_dynamic_code() -> None:
    parsed = pix.parse_brcode(PYPIX_DYNAMIC)
    assert (parsed["key"], parsed["url"]) == (None, "bitsorbyte.com.br/login")
    assert (parsed["name"], parsed["amount_cents"], parsed["txid"]) == ("TESOURO NACIONAL", None, "***")


def test_surrounding_whitespace_and_lowercase_crc_are_accepted() -> None:
    assert pix.parse_brcode(f"  {BCB_EXAMPLE}\n")["key"] == BCB_KEY
    assert pix.parse_brcode(BCB_EXAMPLE[:-4] + "1d3d")["crc"] == "1D3D"


# ------------------------------------------------------------------------------------ bad codes


def test_pypix_corrupted_crc_is_rejected() -> None:
    with pytest.raises(InvalidBRCode, match="CRC mismatch: the code says 325E, its content gives 325F"):
        pix.parse_brcode(PYPIX_PHONE[:-4] + "325E")


def test_any_changed_character_breaks_the_crc() -> None:
    for index in range(len(BCB_EXAMPLE) - 4):
        original = BCB_EXAMPLE[index]
        replacement = "X" if original != "X" else "Y"
        if original.isdigit():  # keep tags and lengths digits, so the CRC is what fails
            replacement = str((int(original) + 1) % 10)
        changed = BCB_EXAMPLE[:index] + replacement + BCB_EXAMPLE[index + 1 :]
        with pytest.raises(InvalidBRCode):
            pix.parse_brcode(changed)


def test_every_truncation_is_rejected() -> None:
    for end in range(len(BCB_EXAMPLE)):
        with pytest.raises(InvalidBRCode):
            pix.parse_brcode(BCB_EXAMPLE[:end])


def test_truncated_field_is_reported() -> None:
    with pytest.raises(InvalidBRCode, match="field 26 declares 58 characters but only 30 remain"):
        pix.parse_brcode(BCB_EXAMPLE[:40])


def test_lengths_and_tags_must_be_digits() -> None:
    with pytest.raises(InvalidBRCode, match="length of field 26 must be 2 digits, got '5X'"):
        pix.parse_brcode(BCB_EXAMPLE.replace("265800", "265X00", 1))
    with pytest.raises(InvalidBRCode, match="tag at position 6 must be 2 digits, got 'A6'"):
        pix.parse_brcode(BCB_EXAMPLE.replace("2658", "A658", 1))
    with pytest.raises(InvalidBRCode, match="length 00"):
        pix.parse_brcode(with_crc("000201" + "2600" + BCB_EXAMPLE[6:-4]))


def test_wrong_length_shifts_the_fields_and_is_caught() -> None:
    # Name declared 12 characters long instead of 13: the rest no longer lines up.
    with pytest.raises(InvalidBRCode):
        pix.parse_brcode(with_crc(BCB_EXAMPLE[:-4].replace("5913Fulano de Tal", "5912Fulano de Tal")))


def test_must_start_with_the_payload_format_indicator_and_end_with_the_crc() -> None:
    with pytest.raises(InvalidBRCode, match="start with 000201"):
        pix.parse_brcode(with_crc("000202" + BCB_EXAMPLE[6:-4]))
    with pytest.raises(InvalidBRCode, match="empty"):
        pix.parse_brcode("   ")
    with pytest.raises(InvalidBRCode, match="end with the CRC"):
        pix.parse_brcode(BCB_EXAMPLE + "0102AB")
    with pytest.raises(InvalidBRCode, match="end with the CRC"):
        pix.parse_brcode(BCB_EXAMPLE[:-8] + "630512345")
    with pytest.raises(TypeError):
        pix.parse_brcode(None)  # type: ignore[arg-type]


def body_without(tag: str) -> str:
    """The Banco Central example without top-level field `tag`, ending in 6304."""
    fields = pix.parse_brcode(BCB_EXAMPLE)["fields"]
    return "".join(field(t, v) for t, v in fields.items() if t not in (tag, "63")) + "6304"


@pytest.mark.parametrize(
    ("tag", "message"),
    [("26", "no merchant account"), ("52", "missing field 52"), ("53", "missing field 53"),
     ("58", "missing field 58"), ("59", "missing field 59"), ("60", "missing field 60"),
     ("62", "missing field 62")],
)  # fmt: skip
def test_missing_mandatory_fields(tag: str, message: str) -> None:
    with pytest.raises(InvalidBRCode, match=message):
        pix.parse_brcode(with_crc(body_without(tag)))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [("5303986", "5303032", "currency .* must be 986"),
     ("5802BR", "5802AR", "country .* must be BR"),
     ("52040000", "5204ABCD", "merchant category code"),
     ("0014br.gov.bcb.pix", "0014br.gov.bcb.xyz", "not a Pix code"),
     ("0136123e4567-e12b-12d1-a456-426655440000", "0336123e4567-e12b-12d1-a456-426655440000",
      "neither a Pix key"),
     ("62070503***", "62070603***", "no txid"),
     ("5913Fulano de Tal", "5926Fulano de Tal da Silva Sau", "merchant name .* 26 characters"),
     ("6008BRASILIA", "6016BRASILIA DF BRAS", "merchant city .* 16 characters"),
     ("62070503***", "62300526abcdefghijklmnopqrstuvwxyz", "txid has 26 characters"),
     ("5802BR", "540510,505802BR", "amount .* like 10.50"),
     ("5802BR", "5403.505802BR", "amount .* like 10.50"),
     ("5802BR", "540310.5802BR", "amount .* like 10.50")],
)  # fmt: skip
def test_invalid_mandatory_values(old: str, new: str, message: str) -> None:
    body = BCB_EXAMPLE[:-4]
    assert old in body
    changed = body.replace(old, new, 1)
    if old.startswith("0014") or old.startswith("0136"):  # nested in 26: fix its length
        account = pix.parse_brcode(BCB_EXAMPLE)["fields"]["26"].replace(old, new, 1)
        changed = body.replace(
            field("26", pix.parse_brcode(BCB_EXAMPLE)["fields"]["26"]), field("26", account)
        )
    with pytest.raises(InvalidBRCode, match=message):
        pix.parse_brcode(with_crc(changed))


def test_repeated_field_is_rejected() -> None:
    with pytest.raises(InvalidBRCode, match="field 58 appears twice"):
        pix.parse_brcode(with_crc(BCB_EXAMPLE[:-4].replace("5802BR", "5802BR5802BR")))


# ---------------------------------------------------------------------------------------- QR code


def test_qr_png_is_a_png_of_phone_size() -> None:
    for code in (BCB_EXAMPLE, STARK_LONG_NAME, PYPIX_RANDOM_KEY):
        png = pix.qr_png(code)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG"
        width, height = image.size
        assert width == height and 300 <= width <= 400


def test_qr_png_draws_the_payload_with_error_correction_m() -> None:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    image = Image.open(io.BytesIO(pix.qr_png(BCB_EXAMPLE))).convert("L")
    reference = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    reference.add_data(BCB_EXAMPLE)
    reference.make(fit=True)
    matrix = reference.get_matrix()  # modules including the 4-module quiet zone
    box = image.size[0] // len(matrix)
    assert box * len(matrix) == image.size[0]
    drawn = [[image.getpixel((x * box + box // 2, y * box + box // 2)) < 128 for x in range(len(matrix))]
             for y in range(len(matrix))]  # fmt: skip
    assert drawn == matrix


def test_qr_png_refuses_an_invalid_code() -> None:
    with pytest.raises(InvalidBRCode):
        pix.qr_png(BCB_EXAMPLE[:-4] + "0000")
