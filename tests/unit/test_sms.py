"""Tests for bot.reminders.sms: GSM-7 vs UCS-2, segment counts, economy mode and SMS cost.

Expected counts come from the rules (160/153 septets, 70/67 UTF-16 units, no character split across
segments), worked out by hand in the comments, not from the code under test.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bot.reminders.sms import (
    GSM7,
    UCS2,
    SegmentInfo,
    encoding,
    estimate_cost,
    length,
    segments,
    to_gsm7,
)

# The GSM 03.38 tables, written out independently of the module: basic (minus the 0x1B escape) and
# extension.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
EMOJI = "\U0001f600"  # 😀, outside the BMP: 2 UTF-16 units

# ------------------------------------------------------------------------------------------ encoding


def test_gsm_tables_written_out_have_the_right_size():
    assert len(GSM_BASIC) == 127 and len(set(GSM_BASIC)) == 127
    assert len(GSM_EXTENSION) == 10


def test_every_gsm_character_is_gsm7():
    assert encoding(GSM_BASIC) == GSM7
    assert encoding(GSM_EXTENSION) == GSM7
    assert encoding("") == GSM7


@pytest.mark.parametrize("char", list("éèùìòàÇÉÄÖÑÜÅÆØäöñüåæøß"))
def test_accented_letters_gsm7_has(char):
    assert encoding(f"Voc{char}") == GSM7


NOT_GSM7 = [*"ãõçáâêíóôúÃÕÁÂÊÍÓÔÚÀÈ`", "\u00a0", "\u2019", "\u2014", "\u2026", EMOJI]


@pytest.mark.parametrize("char", NOT_GSM7)
def test_one_character_outside_gsm7_makes_it_ucs2(char):
    assert encoding("Sua fatura vence hoje" + char) == UCS2


def test_escape_and_nul_are_not_characters():
    assert encoding("\x1b") == UCS2  # the escape is not a character of the alphabet
    assert encoding("\x00") == UCS2  # "@" is code 0x00 in GSM-7, U+0000 is not "@"


# ------------------------------------------------------------------------------------------ length


def test_length_gsm7_counts_extension_characters_twice():
    assert length("abc", GSM7) == 3
    assert length("R$ 10 ou €2 [promo]", GSM7) == 19 + 3  # € [ ] are 2 septets each
    assert length(GSM_EXTENSION, GSM7) == 20
    assert length("€") == 2  # the encoding the text needs, by default


def test_length_ucs2_counts_utf16_units():
    assert length("João", UCS2) == 4
    assert length("€", UCS2) == 1  # a BMP character like any other in UCS-2
    assert length(EMOJI, UCS2) == 2
    assert length("Oi " + EMOJI) == 5
    assert length("abc", UCS2) == 3  # GSM text can be counted as UCS-2 too


def test_length_gsm7_of_a_non_gsm_text_is_refused():
    with pytest.raises(ValueError, match="GSM-7"):
        length("João", GSM7)
    with pytest.raises(ValueError, match="encoding"):
        length("abc", "UTF-8")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # (encoding, characters, segments, per_segment, remaining)
        ("", (GSM7, 0, 0, 160, 160)),  # nothing to send
        ("a", (GSM7, 1, 1, 160, 159)),
        ("a" * 160, (GSM7, 160, 1, 160, 0)),
        ("a" * 161, (GSM7, 161, 2, 153, 145)),  # 153 + 8
        ("a" * 306, (GSM7, 306, 2, 153, 0)),  # 153 + 153
        ("a" * 307, (GSM7, 307, 3, 153, 152)),  # 153 + 153 + 1
        ("a" * 1530, (GSM7, 1530, 10, 153, 0)),
        # An extension character is 2 septets.
        ("a" * 158 + "€", (GSM7, 160, 1, 160, 0)),
        ("a" * 159 + "€", (GSM7, 161, 2, 153, 145)),  # 153 a; 6 a + € = 8
        ("€" * 80, (GSM7, 160, 1, 160, 0)),
        ("€" * 81, (GSM7, 162, 2, 153, 143)),  # 76 € = 152 (the 77th does not fit); 5 € = 10
        # ... and never split: 152 septets used, "€" needs 2, so it starts segment 2.
        ("a" * 151 + "€" + "a" * 10, (GSM7, 163, 2, 153, 143)),  # 151 + 2 = 153 exactly; 10
        ("a" * 152 + "€" + "a" * 151, (GSM7, 305, 2, 153, 0)),  # 152 (+1 wasted); 2 + 151 = 153
        ("a" * 152 + "€" + "a" * 152, (GSM7, 306, 3, 153, 152)),  # ceil(306/153) would say 2
        # UCS-2: 70 in one segment, 67 per segment beyond.
        ("ã", (UCS2, 1, 1, 70, 69)),
        ("ã" * 70, (UCS2, 70, 1, 70, 0)),
        ("ã" * 71, (UCS2, 71, 2, 67, 63)),  # 67 + 4
        ("ã" * 134, (UCS2, 134, 2, 67, 0)),
        ("ã" * 135, (UCS2, 135, 3, 67, 66)),
        # One "ã" among GSM letters is enough.
        ("ã" + "a" * 69, (UCS2, 70, 1, 70, 0)),
        ("ã" + "a" * 70, (UCS2, 71, 2, 67, 63)),
        ("a" * 159 + "ã", (UCS2, 160, 3, 67, 67 * 3 - 160)),  # 160 GSM chars would be 1 segment
        # In UCS-2 "€" is one unit like any other.
        ("ã" + "€" * 69, (UCS2, 70, 1, 70, 0)),
        # Emojis outside the BMP are 2 units (surrogate pair).
        (EMOJI, (UCS2, 2, 1, 70, 68)),
        (EMOJI * 35, (UCS2, 70, 1, 70, 0)),
        (EMOJI * 35 + "a", (UCS2, 71, 2, 67, 62)),  # 33 emojis = 66 (+1 wasted); 2 emojis + a = 5
        # ... and a pair is never split.
        ("a" * 66 + EMOJI + "a" * 65, (UCS2, 133, 2, 67, 0)),  # 66 (+1 wasted); 2 + 65 = 67
        ("a" * 66 + EMOJI + "a" * 66, (UCS2, 134, 3, 67, 66)),  # ceil(134/67) would say 2
        ("a" * 65 + EMOJI + "a" * 67, (UCS2, 134, 2, 67, 0)),  # 65 + 2 = 67 exactly; 67
    ],
)
def test_segments(text, expected):
    assert segments(text) == SegmentInfo(*expected)


def test_segment_info_is_frozen():
    info = segments("Oi")
    with pytest.raises(AttributeError):
        info.segments = 5  # type: ignore[misc]


# A reminder as the régua sends it. By hand: "Olá, João! " 11 + "Sua fatura de R$ 150,00 vence amanhã. " 38
# + "Pague pelo Pix: " 16 + "12345678000190" 14 = 79 characters, all in the BMP.
REMINDER = "Olá, João! Sua fatura de R$ 150,00 vence amanhã. Pague pelo Pix: 12345678000190"

# "Olá, Maria! " 12 + "Sua parcela de R$ 89,90 " 24 + "do acordo nº 4521 venceu em 10/06. " 35
# + "Evite juros: pague hoje pelo Pix copia e cola ou responda AJUDA. " 65
# + "Não quer mais SMS? Responda SAIR." 33 = 169 characters.
LONG_REMINDER = (
    "Olá, Maria! Sua parcela de R$ 89,90 do acordo nº 4521 venceu em 10/06. "
    "Evite juros: pague hoje pelo Pix copia e cola ou responda AJUDA. "
    "Não quer mais SMS? Responda SAIR."
)


# Only GSM-7 letters ("é", "@"): "Sua " 4 + "fatura " 7 + "é " 2 + "de " 3 + "R$ " 3 + "99,90 " 6 + "e " 2
# + "vence " 6 + "hoje. " 6 + "Pague " 6 + "pelo " 5 + "Pix: " 5 + "regua@exemplo.com.br" 20 = 75 characters.
GSM_REMINDER = "Sua fatura é de R$ 99,90 e vence hoje. Pague pelo Pix: regua@exemplo.com.br"


def test_hand_counts_of_the_reminders():
    assert len(REMINDER) == 79
    assert len(GSM_REMINDER) == 75
    assert len(LONG_REMINDER) == 169


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "á" and "ã": UCS-2, 79 > 70, so 67 + 12.
        (REMINDER, (UCS2, 79, 2, 67, 55)),
        # The same in economy mode: 79 septets, one segment.
        (
            "Ola, Joao! Sua fatura de R$ 150,00 vence amanha. Pague pelo Pix: 12345678000190",
            (GSM7, 79, 1, 160, 81),
        ),
        # "é" and "@" are GSM-7: 75 septets.
        (GSM_REMINDER, (GSM7, 75, 1, 160, 85)),
        # 169 UCS-2 units: 67 + 67 + 35.
        (LONG_REMINDER, (UCS2, 169, 3, 67, 32)),
    ],
)
def test_segments_of_portuguese_reminders(text, expected):
    assert segments(text) == SegmentInfo(*expected)


def test_economy_mode_saves_segments_on_the_long_reminder():
    # "á" -> "a", "º" -> "o", "ã" -> "a": still 169 characters, now septets: 153 + 16.
    assert segments(to_gsm7(LONG_REMINDER)) == SegmentInfo(GSM7, 169, 2, 153, 137)


# ------------------------------------------------------------------------------------------ economy mode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REMINDER, "Ola, Joao! Sua fatura de R$ 150,00 vence amanha. Pague pelo Pix: 12345678000190"),
        ("ã õ ç á â ê í ó ô ú", "a o c a a e i o o u"),
        ("Ã Õ Á Â Ê Í Ó Ô Ú À", "A O A A E I O O U A"),
        ("Não, você não pôde pagar à vista?", "Nao, voce nao pode pagar à vista?"),  # "à" is GSM-7
        ("Você é o titular", "Voce é o titular"),  # "é" is GSM-7
        ("ação", "acao"),
        ("ATENÇÃO", "ATENÇAO"),  # "Ç" is GSM-7, "ç" is not
        ("Müller, Ñandú, Øre", "Müller, Ñandu, Øre"),
        # Decomposed input (a letter followed by a combining accent).
        ("Joa\u0303o Jose\u0301", "Joao José"),
        # Typography.
        ("\u201cPix\u201d e \u2018boleto\u2019", "\"Pix\" e 'boleto'"),
        ("\u00abaviso\u00bb", '"aviso"'),
        ("pague \u2013 hoje \u2014 j\u00e1", "pague - hoje - ja"),
        ("Aguarde\u2026", "Aguarde..."),
        ("d\u2019\u00e1gua `x` \u00b4y\u00b4", "d'agua 'x' 'y'"),
        ("R$\u00a0150,00", "R$ 150,00"),
        ("R$\u202f150,00", "R$ 150,00"),
        ("saldo \u22121,00", "saldo -1,00"),
        ("bem\u2011vindo", "bem-vindo"),
        ("co\u00adbran\u00e7a", "cobranca"),  # soft hyphen
        ("a\tb\u2028c", "a b\nc"),
        ("nº 12, 1ª parcela, 25°C", "no 12, 1a parcela, 25oC"),
        ("½ x² ﬁm Ａ", "1/2 x2 fim A"),
        ("\u2022 Pix\n\u2022 Boleto", "- Pix\n- Boleto"),
        ("R$ 200 \u2192 R$ 150", "R$ 200 -> R$ 150"),
        ("3\u00d7 de R$ 50", "3x de R$ 50"),
        ("Régua\u00ae \u00a9 2025", "Régua(R) (c) 2025"),
        ("Œuvre", "OEuvre"),
        # Emojis and other symbols are dropped with the spaces around them.
        ("Olá 👋 João", "Ola Joao"),
        ("Pague hoje! 💰", "Pague hoje!"),
        ("👉 Pix", "Pix"),
        ("👉 Pix\n👉 Boleto", "Pix\nBoleto"),
        ("Oi👋!", "Oi!"),
        ("Oi 🎉 🎉 tudo bem", "Oi tudo bem"),
        ("Obrigado ❤️", "Obrigado"),  # heart + variation selector
        ("👨\u200d👩\u200d👧 família", "familia"),  # ZWJ sequence
        ("👍🏽 ok", "ok"),  # skin tone modifier
        ("a\u200bb", "ab"),  # zero-width space
        ("dois  espaços", "dois  espacos"),  # spaces the author typed are left alone
        ("Sem emoji \U0001f600", "Sem emoji"),
        ("日本 ok", "ok"),
        ("", ""),
        # GSM-7 text, extension characters included, is unchanged.
        ("{[€]} ^~|\\ \f", "{[€]} ^~|\\ \f"),
        (GSM_BASIC, GSM_BASIC),
    ],
)
def test_to_gsm7(text, expected):
    assert to_gsm7(text) == expected
    assert encoding(expected) == GSM7


def _random_text(rng: random.Random) -> str:
    """A random mix of what reminders and pasted text contain, and of anything Unicode has."""
    pools = [
        GSM_BASIC + GSM_EXTENSION,
        "ãõçáâêíóôúÃÕÇÁÂÊÍÓÔÚÀàéÉ",
        "\u00a0\u202f\u2009\u200b\u200d\ufe0f\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u2192\t\u2028",
        "\u0300\u0301\u0303\u0327",  # combining accents, alone or after a letter
        "👋💰🎉❤👍🏽😀🇧🇷",
        "日本語Ωß\x1b\x00\x07\ud800\udfff",  # other scripts, controls, lone surrogates
    ]
    chars = []
    for _ in range(rng.randint(0, 200)):
        if rng.random() < 0.1:
            chars.append(chr(rng.randint(0, 0x10FFFF)))  # any code point at all
        else:
            chars.append(rng.choice(rng.choice(pools)))
    return "".join(chars)


RANDOM_TEXTS = [_random_text(random.Random(seed)) for seed in range(300)]


@pytest.mark.parametrize("text", RANDOM_TEXTS, ids=range(len(RANDOM_TEXTS)))
def test_to_gsm7_always_gives_gsm7_and_is_idempotent(text):
    converted = to_gsm7(text)
    assert encoding(converted) == GSM7
    assert to_gsm7(converted) == converted


@pytest.mark.parametrize("text", RANDOM_TEXTS, ids=range(len(RANDOM_TEXTS)))
def test_segments_agree_with_independent_counts(text):
    info = segments(text)
    if info.encoding == UCS2:
        assert info.characters == len(text.encode("utf-16-le", "surrogatepass")) // 2
    else:
        assert info.characters == len(text) + sum(text.count(c) for c in GSM_EXTENSION)
    single = 160 if info.encoding == GSM7 else 70
    if info.characters <= single:
        assert info.segments == (1 if text else 0)
    else:
        per_part = 153 if info.encoding == GSM7 else 67
        # Never fewer than the plain division; more only by the units wasted at the boundaries (at most
        # one per segment), and the last segment holds the rest.
        assert info.segments >= -(-info.characters // per_part)
        assert info.characters + (info.segments - 1) >= (info.segments - 1) * per_part
        assert 0 <= info.remaining < per_part


# ------------------------------------------------------------------------------------------ cost


@pytest.mark.parametrize(
    ("count", "price", "cents"),
    [
        (0, Decimal("0.0735"), 0),
        (1, Decimal("0.0735"), 7),  # 7.35 centavos
        (2, Decimal("0.0735"), 15),  # 14.70
        (3, Decimal("0.0735"), 22),  # 22.05, rounded once (per segment it would be 21)
        (10, Decimal("0.0735"), 74),  # 73.50: half up
        (100_000, Decimal("0.0735"), 735_000),  # R$ 7.350,00
        (1, Decimal("0.005"), 1),  # half a centavo rounds up
        (1, Decimal("0.00499"), 0),
        (3, Decimal("0.05"), 15),
        (1, Decimal("0"), 0),
        (7, Decimal("1"), 700),
        (10**30, Decimal("0.0735"), 735 * 10**28),  # exact even beyond the default 28 digits
    ],
)
def test_estimate_cost(count, price, cents):
    assert estimate_cost(count, price) == cents


def test_estimate_cost_of_a_reminder():
    assert estimate_cost(segments(REMINDER).segments, Decimal("0.0735")) == 15  # 2 segments: 14.70
    assert estimate_cost(segments(to_gsm7(REMINDER)).segments, Decimal("0.0735")) == 7  # 1 segment


@pytest.mark.parametrize(
    ("count", "price", "error"),
    [
        (1, 0.0735, TypeError),  # never a float
        (1, 7, TypeError),  # an int would be centavos elsewhere in Régua: ambiguous
        (1, "0.0735", TypeError),
        (1.0, Decimal("0.0735"), TypeError),
        (True, Decimal("0.0735"), TypeError),
        (-1, Decimal("0.0735"), ValueError),
        (1, Decimal("-0.01"), ValueError),
        (1, Decimal("NaN"), ValueError),
        (1, Decimal("Infinity"), ValueError),
    ],
)
def test_estimate_cost_refuses(count, price, error):
    with pytest.raises(error):
        estimate_cost(count, price)
