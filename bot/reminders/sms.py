"""What an SMS costs: its encoding, its segments, and the price of sending it.

An SMS carries 140 octets. The phone network knows two alphabets for text:

========  ==========================================================  ===========  ===============
Encoding  Characters                                                  One segment  Each segment of
                                                                                   a long message
========  ==========================================================  ===========  ===============
GSM-7     GSM 03.38 basic table: 1 septet each; extension table            160            153
          (``^ { } \\ [ ~ ] | €`` and form feed): escape + 1, 2 septets
UCS-2     anything, as UTF-16 code units: 1 each, 2 for a character         70             67
          outside the BMP (most emojis: a surrogate pair)
========  ==========================================================  ===========  ===============

A long message is sent as concatenated segments, each carrying a 6-octet header (UDH) that tells the phone
how to reassemble them, hence 153 and 67 instead of 160 and 70. Twilio bills every segment.

The whole message uses one encoding: a single character outside GSM-7 turns all of it into UCS-2. The
basic table has only a few accented letters (é è ù ì ò à, É Ç Ä Ö Ñ Ü Å Æ Ø, ä ö ñ ü å æ ø ß), so most
Brazilian Portuguese text (ã õ ç á â ê í ó ô ú, "Olá", "João", "você", "não") is UCS-2: a 100-character
reminder costs 2 segments instead of 1.

Counting segments
-----------------
Up to 160 septets (GSM-7) or 70 units (UCS-2) is one segment. Beyond that, segments are filled in order,
153 septets or 67 units each, and a character never straddles two segments: an extension character
(escape + character) or a surrogate pair that does not fit in what is left of a segment starts the next
one, as Twilio and handsets do. So the count is not always ``ceil(units / 153)``. An empty text is 0
segments: Twilio refuses an empty body, so there is nothing to send or bill.

Economy mode
------------
`to_gsm7` rewrites a text so that it is GSM-7, trading accents for price: "Olá, João! Sua fatura vence
amanhã." (UCS-2) becomes "Ola, Joao! Sua fatura vence amanha." (GSM-7). Characters that GSM-7 has are kept
unchanged (so "é", "à" and "Ç" stay, while "ç" becomes "c" and "À" becomes "A"); typographic quotes,
dashes, ellipsis and unusual spaces become their ASCII forms; emojis and other symbols without a plain
form are dropped. Whether to use it is a business decision (accents read better, and a wrong accent can
change a word); this module only computes.

Prices are `Decimal` reais per segment (providers quote fractions of a centavo, e.g. R$ 0,0735), never
floats; `estimate_cost` returns int centavos like the rest of Régua (see `bot.money`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Final, Literal

from bot.money import decimal_to_cents

__all__ = [
    "GSM7",
    "UCS2",
    "Encoding",
    "SegmentInfo",
    "encoding",
    "estimate_cost",
    "length",
    "segments",
    "to_gsm7",
]

Encoding = Literal["GSM-7", "UCS-2"]
GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# The GSM 03.38 basic table in code order (0x00..0x7F), so _GSM7_BASIC_TABLE[0x09] is the character coded
# 0x09. 0x1B is not a character but the escape to the extension table; "\x1b" holds its place here and
# is left out of the set below. 0x09 is "Ç" in 3GPP TS 23.038 (some old handsets show it as "ç").
_ESCAPE = "\x1b"
_GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e" + _ESCAPE + "ÆæßÉ"  # Δ_ΦΓΛΩΠΨΣΘΞ
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_GSM7_BASIC = frozenset(_GSM7_BASIC_TABLE) - {_ESCAPE}
# Reached with the escape: 2 septets each. (The table has a few more codes, but none is a character.)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = _GSM7_BASIC | _GSM7_EXTENSION

_LIMITS: dict[str, tuple[int, int]] = {GSM7: (160, 153), UCS2: (70, 67)}  # (one segment, per part)


@dataclass(frozen=True)
class SegmentInfo:
    """How an SMS text is sent and billed.

    `characters` is in the encoding's units (septets for GSM-7, UTF-16 code units for UCS-2), not Python's
    ``len``. `per_segment` is 160/70 while the text fits in one segment and 153/67 once it does not.
    `remaining` is how many units still fit in the last segment before another one is needed (for an
    empty text, the capacity of the first segment); in GSM-7 an extension character needs 2 of them.
    """

    encoding: Encoding
    characters: int
    segments: int
    per_segment: int
    remaining: int


def encoding(text: str) -> Encoding:
    """The encoding `text` is sent in: "GSM-7" if every character is in the GSM 03.38 basic or extension
    table, else "UCS-2".

    The empty text is GSM-7.
    """
    return GSM7 if all(char in _GSM7 for char in text) else UCS2


_encoding_of = encoding  # for `length`, whose parameter is named `encoding`


def _widths(text: str, encoding_: Encoding) -> list[int]:
    """The units each character of `text` takes in `encoding_`."""
    if encoding_ == GSM7:
        if not all(char in _GSM7 for char in text):
            raise ValueError("text has characters outside GSM-7; count it as UCS-2")
        return [2 if char in _GSM7_EXTENSION else 1 for char in text]
    if encoding_ == UCS2:
        return [2 if ord(char) > 0xFFFF else 1 for char in text]  # outside the BMP: a surrogate pair
    raise ValueError(f"unknown SMS encoding: {encoding_!r}")


def length(text: str, encoding: Encoding | None = None) -> int:
    """The length of `text` in units of `encoding` (by default, the one `text` needs).

    GSM-7 counts septets: 1 per basic character, 2 per extension character (``€``, ``[``, ...). UCS-2
    counts UTF-16 code units: 1 per character of the BMP, 2 for one outside it (most emojis). Asking for
    GSM-7 length of a text that is not GSM-7 raises `ValueError`.
    """
    return sum(_widths(text, _encoding_of(text) if encoding is None else encoding))


def segments(text: str) -> SegmentInfo:
    """The encoding, length and segment count of `text` as an SMS (see the module docstring).

    Multipart segments are filled one character at a time, so an extension character or a surrogate pair
    that would straddle a boundary moves whole to the next segment. Empty text: 0 segments.
    """
    encoding_ = encoding(text)
    widths = _widths(text, encoding_)
    total = sum(widths)
    single, per_part = _LIMITS[encoding_]
    if total <= single:
        return SegmentInfo(encoding_, total, 1 if total else 0, single, single - total)
    count, used = 1, 0
    for width in widths:
        if used + width > per_part:
            count, used = count + 1, 0
        used += width
    return SegmentInfo(encoding_, total, count, per_part, per_part - used)


# ------------------------------------------------------------------------------------------ economy mode

# Characters that Unicode compatibility decomposition (NFKD) does not bring into GSM-7, and their
# replacements. Every value is GSM-7 (the tests check it).
_REPLACEMENTS: dict[str, str] = {
    # Quotes and apostrophes, as word processors and phone keyboards type them.
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u2032": "'",  # ′
    "\u00b4": "'",  # ´ (NFKD would give a space and a combining accent)
    "`": "'",  # not in GSM-7
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2039": "'",  # ‹
    "\u203a": "'",  # ›
    # Dashes and hyphens.
    "\u2010": "-",  # hyphen (also what NFKD makes of the non-breaking hyphen)
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u00ad": "",  # soft hyphen: invisible
    # Spaces and line breaks (NFKD turns most other spaces into " ").
    "\t": " ",
    "\u2028": "\n",  # line separator
    "\u2029": "\n",  # paragraph separator
    # Symbols with a plain form.
    "\u2022": "-",  # • bullet
    "\u00b7": "-",  # · middle dot
    "\u2023": "-",  # ‣
    "\u2043": "-",  # ⁃
    "\u2192": "->",  # →
    "\u27a1": "->",  # ➡
    "\u2190": "<-",  # ←
    "\u2194": "<->",  # ↔
    "\u21d2": "=>",  # ⇒
    "\u00d7": "x",  # ×
    "\u00f7": "/",  # ÷
    "\u2044": "/",  # fraction slash (from ½ and friends)
    "\u00b0": "o",  # ° (also stands in for º)
    "\u00a9": "(c)",  # ©
    "\u00ae": "(R)",  # ®
    "\u00a6": "|",  # ¦
    "\u00a2": "c",  # ¢
    # Letters without a decomposition.
    "\u0152": "OE",  # Œ
    "\u0153": "oe",  # œ
    "\u0141": "L",  # Ł
    "\u0142": "l",  # ł
    "\u0110": "D",  # Đ
    "\u0111": "d",  # đ
    "\u00d0": "D",  # Ð
    "\u00f0": "d",  # ð
    "\u00de": "Th",  # Þ
    "\u00fe": "th",  # þ
    "\u0131": "i",  # dotless ı
}

# Stands for a dropped character until the spaces around it are tidied. It is not GSM-7 itself (NUL, not
# "@"), so it cannot be confused with kept text.
_DROPPED = "\x00"
_DROPPED_RUN = re.compile(r" *\x00[ \x00]*")


def _to_gsm7_char(char: str) -> str:
    """GSM-7 text for one character (NFC), or `_DROPPED`."""
    if char in _GSM7:
        return char
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    # "ã" -> "a" + combining tilde, "ﬁ" -> "fi", "²" -> "2", "º" -> "o", "\u00a0" -> " ", "½" -> "1⁄2".
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if part in _GSM7:
            out.append(part)
        elif part in _REPLACEMENTS:
            out.append(_REPLACEMENTS[part])
        elif unicodedata.combining(part):
            continue  # the accent of a decomposed letter
        else:
            out.append(_DROPPED)
    return "".join(out)


def _close_gap(match: re.Match[str]) -> str:
    """What replaces a run of dropped characters and the spaces around it: one space between two words,
    nothing at the start or end of a line or when the dropped character was glued to a word."""
    text, start, end = match.string, match.start(), match.end()
    at_line_start = start == 0 or text[start - 1] in "\r\n"
    at_line_end = end == len(text) or text[end] in "\r\n"
    if at_line_start or at_line_end:
        return ""
    return " " if " " in match.group() else ""


def to_gsm7(text: str) -> str:
    """`text` rewritten so that it is GSM-7 ("economy mode"); see the module docstring.

    * Characters that GSM-7 has are kept as they are, accented ones included ("é", "à", "Ç", "ü").
    * Other accented letters lose the accent: "ã" -> "a", "ç" -> "c", "Ê" -> "E"; "nº" -> "no", "1ª" -> "1a".
    * Typographic quotes, dashes, "…", bullets, arrows, no-break and other spaces get ASCII forms.
    * Anything else (emojis, pictographs, letters of other scripts, control characters) is dropped, with
      the spaces around it: "Olá 👋 João" -> "Ola Joao", "Pague hoje! 💰" -> "Pague hoje!".

    The result is always GSM-7, and ``to_gsm7(to_gsm7(text)) == to_gsm7(text)``. It can be longer than
    `text` ("…" -> "...", "€" is 2 septets): usually far cheaper, but compare `segments` of both to be sure.
    """
    # NFC first, so a letter typed as "a" + combining tilde is handled like "ã", and "e" + acute as "é".
    converted = "".join(_to_gsm7_char(char) for char in unicodedata.normalize("NFC", text))
    if _DROPPED not in converted:
        return converted
    return _DROPPED_RUN.sub(_close_gap, converted)


# ------------------------------------------------------------------------------------------ price


def estimate_cost(segment_count: int, price_per_segment_reais: Decimal) -> int:
    """What `segment_count` segments cost, in int centavos, at `price_per_segment_reais` (a `Decimal` of
    reais per segment, as providers quote it: ``Decimal("0.0735")`` is R$ 0,0735).

    The total is computed exactly and rounded once, half up, to the centavo: 3 segments at R$ 0,0735 are
    R$ 0,2205 -> 22 centavos (rounding each segment first would say 21). An int price is refused (in Régua
    an int is centavos, and a price per segment is not a whole number of centavos), as is a float.
    """
    if isinstance(segment_count, bool) or not isinstance(segment_count, int):
        raise TypeError(f"segment_count must be an int, not {type(segment_count).__name__}")
    if segment_count < 0:
        raise ValueError("segment_count cannot be negative")
    if not isinstance(price_per_segment_reais, Decimal):
        raise TypeError(
            "price_per_segment_reais must be a Decimal of reais (e.g. Decimal('0.0735')), "
            f"not {type(price_per_segment_reais).__name__}"
        )
    if not price_per_segment_reais.is_finite() or price_per_segment_reais < 0:
        raise ValueError(f"not a price: {price_per_segment_reais}")
    with localcontext() as ctx:
        # Enough digits for the exact product: no rounding before the one to the centavo.
        ctx.prec = len(str(segment_count)) + len(price_per_segment_reais.as_tuple().digits) + 2
        total = price_per_segment_reais * segment_count
    return decimal_to_cents(total, ROUND_HALF_UP)
