"""Pix BR Codes ("Pix copia e cola" and the QR Code that carries it), by Banco Central's rules.

A BR Code is an EMV® QRCPS-MPM payload: a run of TLV fields, each a 2-digit tag, a 2-digit length and
that many characters of value. The Pix fields (Banco Central, "Manual de Padrões para Iniciação do Pix"):

====  =========================================================================================
tag   content
====  =========================================================================================
00    payload format indicator, "01" (always first)
01    point of initiation method, optional ("11" reusable, "12" single use)
26    merchant account information: 00 GUI "br.gov.bcb.pix", then 01 the Pix key (static codes)
      and 02 a free message for the payer, or 25 a URL (dynamic codes)
52    merchant category code, "0000"
53    transaction currency, "986" (real)
54    amount, optional: reais with a dot and up to two decimals ("10.50")
58    country, "BR"
59    merchant (receiver) name, at most 25 characters
60    merchant city, at most 15 characters
61    postal code, optional
62    additional data field: 05 the txid, at most 25 of [A-Za-z0-9], or "***" when there is none
63    CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF) of everything before it including "6304",
      as 4 uppercase hex digits; always last
====  =========================================================================================

`build_brcode` writes static codes. Names, cities and messages are reduced to plain ASCII first
(accents removed with `bot.text_folding`: "São Paulo" -> "Sao Paulo"); then a name longer than 25 characters
or a city longer than 15 is **truncated**, as banks' apps do, while an invalid txid, an empty key or a
message that does not fit raise `InvalidBRCode`. `parse_brcode` reads static and dynamic codes and
checks the structure, the mandatory fields and the CRC. `qr_png` draws the QR Code.
"""

from __future__ import annotations

import io
import re
from typing import Any

from bot.text_folding import fold_accents

__all__ = [
    "GUI",
    "MAX_CITY",
    "MAX_NAME",
    "MAX_TXID",
    "InvalidBRCode",
    "build_brcode",
    "crc16",
    "parse_brcode",
    "qr_png",
]

GUI = "br.gov.bcb.pix"
MAX_NAME = 25
MAX_CITY = 15
MAX_TXID = 25
_MAX_KEY = 77  # the longest Pix key Banco Central allows (an e-mail)
_MAX_VALUE = 99  # two length digits
_MAX_AMOUNT_CENTS = 999_999_999_999  # "9999999999.99": tag 54 holds at most 13 characters
_TXID = re.compile(r"[A-Za-z0-9]{1,25}")
_AMOUNT = re.compile(r"(?P<reais>[0-9]+)(?:\.(?P<cents>[0-9]{1,2}))?")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class InvalidBRCode(ValueError):
    """A BR Code cannot be built or read; the message says which field is wrong and why."""


# ---------------------------------------------------------------------------------------------- CRC


def crc16(data: str) -> str:
    """CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) of the UTF-8 bytes of
    `data`, as 4 uppercase hex digits. ``crc16("123456789") == "29B1"``, the standard check value."""
    crc = 0xFFFF
    for byte in data.encode("utf-8"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


# ------------------------------------------------------------------------------------------ building


def _tlv(tag: str, value: str) -> str:
    if not 1 <= len(value) <= _MAX_VALUE:
        raise InvalidBRCode(f"field {tag} must have 1 to {_MAX_VALUE} characters, has {len(value)}")
    return f"{tag}{len(value):02d}{value}"


def _plain(text: str, what: str) -> str:
    """`text` without accents and with single spaces; other non-ASCII characters raise."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    plain = " ".join(fold_accents(text).split())
    if not _PRINTABLE_ASCII.fullmatch(plain):
        raise InvalidBRCode(f"{what} has characters a BR Code cannot carry (only letters, digits and ASCII)")
    return plain


def _amount_text(amount_cents: int) -> str:
    if isinstance(amount_cents, float):
        raise TypeError("money is never a float: pass int centavos")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError(f"amount_cents must be int centavos, not {type(amount_cents).__name__}")
    if not 0 < amount_cents <= _MAX_AMOUNT_CENTS:
        raise InvalidBRCode(f"amount must be between 1 and {_MAX_AMOUNT_CENTS} centavos, got {amount_cents}")
    reais, cents = divmod(amount_cents, 100)
    return f"{reais}.{cents:02d}"


def build_brcode(
    key: str,
    name: str,
    city: str,
    amount_cents: int | None = None,
    txid: str = "***",
    info: str | None = None,
) -> str:
    """A static Pix BR Code, CRC included.

    * `key`: the receiver's Pix key (CPF/CNPJ digits, e-mail, +55 phone or random UUID), as registered.
      Empty, longer than 77 characters or non-ASCII: `InvalidBRCode`.
    * `name` (merchant name, tag 59) and `city` (tag 60): accents removed, then truncated to 25 and 15
      characters. Empty: `InvalidBRCode`.
    * `amount_cents`: int centavos > 0, or None for "the payer types the amount" (tag 54 omitted). A float
      raises `TypeError`, as in `bot.money`.
    * `txid`: up to 25 letters and digits, or "***" (the default) for none; anything else raises.
    * `info`: optional message shown to the payer (tag 26, 02); accents removed. It must fit, with the
      key, in the 99 characters of tag 26, or `InvalidBRCode`.
    """
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, not {type(key).__name__}")
    key = key.strip()
    if not key:
        raise InvalidBRCode("the Pix key is empty")
    if len(key) > _MAX_KEY or not _PRINTABLE_ASCII.fullmatch(key):
        raise InvalidBRCode(f"the Pix key must be at most {_MAX_KEY} ASCII characters")
    plain_name = _plain(name, "merchant name")[:MAX_NAME].rstrip()
    plain_city = _plain(city, "merchant city")[:MAX_CITY].rstrip()
    if not plain_name:
        raise InvalidBRCode("merchant name is empty")
    if not plain_city:
        raise InvalidBRCode("merchant city is empty")
    if not isinstance(txid, str) or not (txid == "***" or _TXID.fullmatch(txid)):
        raise InvalidBRCode(f"txid must be up to {MAX_TXID} letters and digits (A-Z, a-z, 0-9) or '***'")

    account = _tlv("00", GUI) + _tlv("01", key)
    message = _plain(info, "info") if info is not None else ""
    if message:
        account += _tlv("02", message)
    if len(account) > _MAX_VALUE:
        raise InvalidBRCode(
            f"key and info take {len(account)} characters in field 26 (merchant account); the limit is 99"
        )

    payload = _tlv("00", "01") + _tlv("26", account) + _tlv("52", "0000") + _tlv("53", "986")
    if amount_cents is not None:
        payload += _tlv("54", _amount_text(amount_cents))
    payload += _tlv("58", "BR") + _tlv("59", plain_name) + _tlv("60", plain_city)
    payload += _tlv("62", _tlv("05", txid)) + "6304"
    return payload + crc16(payload)


# ------------------------------------------------------------------------------------------- parsing


def _fields(text: str, where: str) -> dict[str, str]:
    """The TLV fields of `text` as {tag: value}; malformed, truncated or repeated fields raise."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        header = text[pos : pos + 4]
        if len(header) < 4:
            raise InvalidBRCode(f"{where}: truncated field at position {pos} ({header!r})")
        tag, length_text = header[:2], header[2:]
        if not (tag.isascii() and tag.isdigit()):
            raise InvalidBRCode(f"{where}: tag at position {pos} must be 2 digits, got {tag!r}")
        if not (length_text.isascii() and length_text.isdigit()):
            raise InvalidBRCode(f"{where}: length of field {tag} must be 2 digits, got {length_text!r}")
        length = int(length_text)
        if length == 0:
            raise InvalidBRCode(f"{where}: field {tag} has length 00")
        value = text[pos + 4 : pos + 4 + length]
        if len(value) < length:
            raise InvalidBRCode(
                f"{where}: field {tag} declares {length} characters but only {len(value)} remain (truncated)"
            )
        if tag in fields:
            raise InvalidBRCode(f"{where}: field {tag} appears twice")
        fields[tag] = value
        pos += 4 + length
    return fields


def _amount_cents(value: str) -> int:
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise InvalidBRCode(f"amount (field 54) must be like 10.50, got {value!r}")
    return int(match["reais"]) * 100 + int((match["cents"] or "0").ljust(2, "0"))


def parse_brcode(payload: str) -> dict[str, Any]:
    """Read a Pix BR Code (static or dynamic) and return its fields.

    Checks the TLV structure (digit tags and lengths, nothing truncated, no repeated tag), that it starts
    with 000201 and ends with the CRC field (6304 + 4 hex digits) matching the payload, and the mandatory
    fields: a merchant account template (tags 26 to 51) with GUI br.gov.bcb.pix and a key (01) or URL
    (25), merchant category code (52), currency 986 (53), country BR (58), name (59, at most 25
    characters), city (60, at most 15) and the additional data field (62) with a txid (05). Anything
    wrong raises `InvalidBRCode`.

    Returns a dict with ``key`` (None for dynamic codes), ``url`` (None for static codes), ``info``,
    ``name``, ``city``, ``amount_cents`` (int or None), ``txid``, ``crc``, and the raw fields:
    ``fields`` (top level, {tag: value}), ``merchant_account`` and ``additional_data`` (nested).
    """
    if not isinstance(payload, str):
        raise TypeError(f"a BR Code is a str, not {type(payload).__name__}")
    text = payload.strip()
    if not text:
        raise InvalidBRCode("BR Code is empty")
    if not text.startswith("000201"):
        raise InvalidBRCode("BR Code must start with 000201 (payload format indicator 01)")
    fields = _fields(text, "BR Code")
    if list(fields)[-1] != "63" or not text.endswith(f"6304{fields['63']}"):
        raise InvalidBRCode("BR Code must end with the CRC field (6304 and 4 hex digits)")
    declared = fields["63"].upper()
    computed = crc16(text[:-4])
    if declared != computed:
        raise InvalidBRCode(f"CRC mismatch: the code says {fields['63']}, its content gives {computed}")

    account: dict[str, str] | None = None
    for tag in (f"{n:02d}" for n in range(26, 52)):
        if tag in fields:
            template = _fields(fields[tag], f"field {tag} (merchant account)")
            if template.get("00", "").lower() == GUI:
                account = template
                break
    if account is None:
        raise InvalidBRCode(f"no merchant account field (26 to 51) with GUI {GUI}: not a Pix code")
    if "01" not in account and "25" not in account:
        raise InvalidBRCode("merchant account has neither a Pix key (01) nor a URL (25)")

    for tag, what in (("52", "merchant category code"), ("53", "currency"), ("58", "country")):
        if tag not in fields:
            raise InvalidBRCode(f"missing field {tag} ({what})")
    if not re.fullmatch(r"[0-9]{4}", fields["52"]):
        raise InvalidBRCode(f"merchant category code (field 52) must be 4 digits, got {fields['52']!r}")
    if fields["53"] != "986":
        raise InvalidBRCode(f"currency (field 53) must be 986 (real), got {fields['53']!r}")
    if fields["58"] != "BR":
        raise InvalidBRCode(f"country (field 58) must be BR, got {fields['58']!r}")
    for tag, what, limit in (("59", "merchant name", MAX_NAME), ("60", "merchant city", MAX_CITY)):
        if tag not in fields:
            raise InvalidBRCode(f"missing field {tag} ({what})")
        if len(fields[tag]) > limit:
            raise InvalidBRCode(f"{what} (field {tag}) has {len(fields[tag])} characters; limit {limit}")
    if "62" not in fields:
        raise InvalidBRCode("missing field 62 (additional data with the txid)")
    additional = _fields(fields["62"], "field 62 (additional data)")
    if "05" not in additional:
        raise InvalidBRCode("field 62 (additional data) has no txid (05)")
    if len(additional["05"]) > MAX_TXID:
        raise InvalidBRCode(f"txid has {len(additional['05'])} characters; the limit is {MAX_TXID}")

    return {
        "key": account.get("01"),
        "url": account.get("25"),
        "info": account.get("02"),
        "name": fields["59"],
        "city": fields["60"],
        "amount_cents": _amount_cents(fields["54"]) if "54" in fields else None,
        "txid": additional["05"],
        "crc": declared,
        "fields": fields,
        "merchant_account": account,
        "additional_data": additional,
    }


# ---------------------------------------------------------------------------------------------- image


def qr_png(payload: str) -> bytes:
    """The BR Code as a QR Code PNG (error correction M), about 350 pixels wide with its quiet zone.

    The payload is validated with `parse_brcode` first: an invalid code raises `InvalidBRCode`.
    """
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    parse_brcode(payload)
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(payload.strip())
    qr.make(fit=True)
    # Static BR Codes are versions 5 to 10 (37 to 57 modules): ~350 px whatever the version.
    qr.box_size = max(4, 350 // (qr.modules_count + 2 * qr.border))
    image = qr.make_image()
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
