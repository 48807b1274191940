"""Tests for bot.payments.boleto, built on public vectors (each cites where it comes from).

Sources (GitHub repositories unless a URL is given):

* [pyboleto] eduardocereto/pyboleto, tests/test_banco_caixa.py, tests/test_banco_real.py,
  tests/test_banco_banrisul.py, pyboleto/tests/test_banco_bradesco.py: a boleto's bank, amount, due date
  and free field with the linha digitável and barcode the library generates for it.
* [boleto-utils] mrmgomes/boleto-utils (npm @mrmgomes/boleto-utils), test/test.js: line <-> barcode pairs
  of a bank boleto, a credit card bill and arrecadação (mod 10 and mod 11), amounts.
* [go-boleto-utils] fonini/go-boleto-utils, parser/parser_test.go: real lines and barcodes with due date
  and amount.
* [VerificadorBoletoBr] Hamdan85/VerificadorBoletoBr, README.md: a bank line (amount, due date) and an
  arrecadação line (amount).
* [Boleto-Validator-PHP] Tagliatti/Boleto-Validator-PHP, README.md: convênio lines, "modulo 10" and
  "modulo 11" examples, and a bank line.
* [GPS] gesielr/guiasMEIlast, apps/backend/inss/ANALISE_CODIGOS_OFICIAIS.md: lines copied from Receita
  Federal's GPS (INSS) slips for 11/2025, arrecadação mod 11 with values.
* [factor table] http://mhemann.com.br/2011/06/a-linha-digitavel-do-boleto-bancario/ (FEBRABAN's table:
  1000 = 03/07/2000, 1002 = 05/07/2000, 1667 = 01/05/2002, 4789 = 17/11/2010, 9999 = 21/02/2025).
* [2025 reset] vladetec/fator-vencimento-boleto-2025, README.md: "22/02/2025: fator = 1000,
  23/02/2025: fator = 1001".
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from PIL import Image

from bot.payments import boleto
from bot.payments.boleto import Boleto, InvalidBoleto

# (formatted linha digitável, barcode, bank, amount_cents, due date, decoded as of) -- "as of" is the
# day the source was made (pyboleto's data_processamento) or any day near it: the due date factor is
# read in the 9000-day window around that day.
BANK_PAIRS = [
    pytest.param(
        "10498.01952 25086.156582 70000.004146 1 53880000295295",
        "10491538800002952958019525086156587000000414",
        "104", 295295, date(2012, 7, 8), date(2012, 7, 3),
        id="pyboleto-caixa",
    ),
    pytest.param(
        "35690.53154 70585.390001 00000.001230 8 48690000035500",
        "35698486900000355000531570585390000000000123",
        "356", 35500, date(2011, 2, 5), date(2011, 1, 18),
        id="pyboleto-real",
    ),
    pytest.param(
        "23790.27804 60000.212559 25003.923205 4 48690000828000",
        "23794486900008280000278060000212552500392320",
        "237", 828000, date(2011, 2, 5), date(2011, 1, 18),
        id="pyboleto-bradesco",
    ),
    pytest.param(
        "04192.11107 29000.150226 83256.340593 8 10010000055000",
        "04198100100000550002111029000150228325634059",
        "041", 55000, date(2000, 7, 4), date(2000, 7, 4),
        id="pyboleto-banrisul",
    ),
    pytest.param(
        "10492006506100010004200997263900989810000021403",
        "10499898100000214032006561000100040099726390",
        "104", 21403, date(2022, 5, 10), date(2025, 6, 10),
        id="boleto-utils-bank",
    ),
    pytest.param(  # credit card bill: factor 0000 and amount 0 (the payer chooses how much to pay)
        "23794150099001980167035000211405700000000000000",
        "23797000000000000004150090019801673500021140",
        "237", None, None, date(2025, 6, 10),
        id="boleto-utils-credit-card",
    ),
]  # fmt: skip

# (line or barcode, bank, amount_cents, due date, as of): sources give one form only.
BANK_SINGLE = [
    pytest.param("23793.38128 60005.963347 21000.063301 1 74640000116037", "237", 116037, date(2018, 3, 15),
                 date(2018, 3, 1), id="go-boleto-utils-bradesco"),
    pytest.param("74891.11612 00172.302267 05522.671006 3 69050000017500", "748", 17500, date(2016, 9, 2),
                 date(2016, 9, 1), id="go-boleto-utils-sicredi"),
    pytest.param("00190000090333717600600639372176398960000008000", "001", 8000, date(2024, 11, 10),
                 date(2024, 11, 1), id="go-boleto-utils-bb"),
    pytest.param("46191110000000000002635057041010498940000096000", "461", 96000, date(2024, 11, 8),
                 date(2024, 11, 1), id="go-boleto-utils-asaas"),
    pytest.param("48190.00003 00005.150396 31049.960144 9 98650000025736", "481", 25736, date(2024, 10, 10),
                 date(2024, 10, 1), id="go-boleto-utils-superlogica"),
    pytest.param("75691303670103467211159238450015997710000096210", "756", 96210, date(2024, 7, 8),
                 date(2024, 7, 1), id="go-boleto-utils-bancoob"),
    # go-boleto-utils reads factor 0000 as 07/10/1997 and amount 0 as 0; here they mean "not set".
    pytest.param("73990.00004 00001.223320 90126.130344 4 00000000000000", "739", None, None,
                 date(2024, 7, 1), id="go-boleto-utils-cetelem-line"),
    pytest.param("73994000000000000000000000001223329012613034", "739", None, None,
                 date(2024, 7, 1), id="go-boleto-utils-cetelem-barcode"),
    pytest.param("34191990600000005001092664672997197273480000", "341", 500, date(2024, 11, 20),
                 date(2024, 11, 1), id="go-boleto-utils-itau-barcode"),
    pytest.param("74898992100000845361121577703702280000282105", "748", 84536, date(2024, 12, 5),
                 date(2024, 12, 1), id="go-boleto-utils-sicredi-barcode"),
    pytest.param("34191 75801 03928 662935 80573 180009 4 67700000007388", "341", 7388, date(2016, 4, 20),
                 date(2016, 4, 1), id="VerificadorBoletoBr"),
]  # fmt: skip

# (line as the source prints it, barcode, modulus of the check digits, amount_cents)
ARRECADACAO = [
    pytest.param("838600000050096000190009000801782309000343062712",
                 "83860000005096000190000008017823000034306271", "mod 11", 50960, id="boleto-utils-energia"),
    pytest.param("858200000007572503282030560708202107539591904460",
                 "85820000000572503282035607082021053959190446", "mod 11", 5725, id="boleto-utils-convert"),
    pytest.param("846300000003299902962024004101360008002006441147",
                 "84630000000299902962020041013600000200644114", "mod 10", 2999, id="boleto-utils-mod10"),
    pytest.param("83640000001-1 33120138000-2 81288462711-6 08013618155-1",
                 "83640000001331201380008128846271108013618155", "mod 10", 13312,
                 id="Boleto-Validator-mod10"),
    pytest.param("85890000460-9 52460179160-5 60759305086-5 83148300001-0",
                 "85890000460524601791606075930508683148300001", "mod 11", 4605246,
                 id="Boleto-Validator-mod11"),
    pytest.param("858900000018 097802702000 323858108001 011520190292",
                 "85890000001097802702003238581080001152019029", "mod 11", 10978, id="VerificadorBoletoBr"),
    pytest.param("85820000001-5 66980270116-2 30001280018-9 67222025113-0",
                 "85820000001669802701163000128001867222025113", "mod 11", 16698, id="GPS-1163"),
    pytest.param("85810000003-0 03600270100-7 70001280018-4 67222025113-0",
                 "85810000003036002701007000128001867222025113", "mod 11", 30360, id="GPS-1007"),
    pytest.param("85800000001-1 66980270112-0 00001280018-0 67222025113-0",
                 "85800000001669802701120000128001867222025113", "mod 11", 16698, id="GPS-1120"),
]  # fmt: skip

# ITF (Interleaved 2 of 5) widths of each digit, N narrow / W wide: the standard table, kept here
# independent of python-barcode's so the drawn bars are checked against the symbology itself.
ITF_PATTERNS = {
    "NNWWN": "0", "WNNNW": "1", "NWNNW": "2", "WWNNN": "3", "NNWNW": "4",
    "WNWNN": "5", "NWWNN": "6", "NNNWW": "7", "WNNWN": "8", "NWNWN": "9",
}  # fmt: skip


def digits_only(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def with_digit(code: str, index: int, digit: str) -> str:
    """`code` (digits only) with position `index` set to `digit`."""
    return code[:index] + digit + code[index + 1 :]


def other_digit(code: str, index: int) -> str:
    return with_digit(code, index, str((int(code[index]) + 1) % 10))


# ------------------------------------------------------------------------------------------ bank


@pytest.mark.parametrize(("line", "barcode", "bank", "amount", "due", "as_of"), BANK_PAIRS)
def test_bank_line_and_barcode_are_the_same_boleto(
    line: str, barcode: str, bank: str, amount: int | None, due: date | None, as_of: date
) -> None:
    from_line = boleto.parse(line, today=as_of)
    from_barcode = boleto.parse(barcode, today=as_of)
    assert from_line == from_barcode
    assert from_line.barcode == barcode
    assert from_line.linha_digitavel == digits_only(line) and len(from_line.linha_digitavel) == 47
    assert (from_line.kind, from_line.bank_code) == ("bank", bank)
    assert (from_line.amount_cents, from_line.due_date) == (amount, due)


@pytest.mark.parametrize(("code", "bank", "amount", "due", "as_of"), BANK_SINGLE)
def test_public_bank_boletos_decode_to_their_amount_and_due_date(
    code: str, bank: str, amount: int | None, due: date | None, as_of: date
) -> None:
    slip = boleto.parse(code, today=as_of)
    assert (slip.kind, slip.bank_code, slip.amount_cents, slip.due_date) == ("bank", bank, amount, due)
    other_form = slip.barcode if len(digits_only(code)) == 47 else slip.linha_digitavel
    assert boleto.parse(other_form, today=as_of) == slip


def test_bank_line_from_a_readme_is_valid() -> None:
    # Boleto-Validator-PHP's README example of a "fatura ou carnê" line.
    slip = boleto.parse("42297.11504 00001.954411 60020.034520 2 68610000054659", today=date(2016, 7, 1))
    assert (slip.bank_code, slip.amount_cents) == ("422", 54659)
    assert slip.due_date == date(1997, 10, 7) + timedelta(days=6861)


@pytest.mark.parametrize(
    "text",
    [
        "10498.01952 25086.156582 70000.004146 1 53880000295295",
        "10498019522508615658270000004146153880000295295",
        " 10498-01952-25086-156582-70000-004146-1-53880000295295\n",
        "10498.01952\t25086.156582\u00a070000.004146 1 53880000295295",  # tab and no-break space
    ],
)
def test_separators_are_ignored(text: str) -> None:
    assert (
        boleto.parse(text, today=date(2012, 7, 3)).barcode == "10491538800002952958019525086156587000000414"
    )


# ----------------------------------------------------------------------------------- arrecadação


@pytest.mark.parametrize(("line", "barcode", "modulus", "amount"), ARRECADACAO)
def test_arrecadacao_line_and_barcode_are_the_same_slip(
    line: str, barcode: str, modulus: str, amount: int
) -> None:
    from_line, from_barcode = boleto.parse(line), boleto.parse(barcode)
    assert from_line == from_barcode
    assert (from_line.barcode, from_line.linha_digitavel) == (barcode, digits_only(line))
    assert (from_line.kind, from_line.bank_code, from_line.due_date) == ("arrecadacao", None, None)
    assert from_line.amount_cents == amount
    assert modulus == ("mod 10" if barcode[2] in "67" else "mod 11")


def test_arrecadacao_reference_value_is_not_an_amount() -> None:
    # Identifiers 7 and 9 carry a quantity (of an index, of a currency), not centavos. No public slip
    # was at hand, so this one is made from [boleto-utils] mod 10 vector with identifier 7 and its
    # check digits recomputed here with FEBRABAN's modulo 10, independently of the module under test.
    def mod10(digits: str) -> int:
        total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(reversed(digits)))
        return (10 - total % 10) % 10

    body = "847" + "0000000299902962020041013600000200644114"
    barcode = body[:3] + str(mod10(body)) + body[3:]
    line = "".join(block + str(mod10(block)) for block in (barcode[i : i + 11] for i in range(0, 44, 11)))
    slip = boleto.parse(line)
    assert slip.barcode == barcode and slip.amount_cents is None and slip.kind == "arrecadacao"


# ------------------------------------------------------------------------------------ due dates


@pytest.mark.parametrize(
    ("factor", "due"),
    [(1000, date(2000, 7, 3)), (1002, date(2000, 7, 5)), (1667, date(2002, 5, 1)), (4789, date(2010, 11, 17)),
     (9999, date(2025, 2, 21))],
)  # fmt: skip
def test_febraban_factor_table_before_the_reset(factor: int, due: date) -> None:
    assert boleto.due_factor(due) == factor
    assert boleto.due_date_from_factor(factor, today=date(2005, 1, 1)) == due


@pytest.mark.parametrize(("factor", "due"), [(1000, date(2025, 2, 22)), (1001, date(2025, 2, 23))])
def test_factor_restarts_at_1000_on_2025_02_22(factor: int, due: date) -> None:
    assert boleto.due_factor(due) == factor
    assert boleto.due_date_from_factor(factor, today=date(2025, 6, 10)) == due


def test_the_same_factor_names_dates_one_cycle_apart() -> None:
    # pyboleto's Banrisul boleto is due 04/07/2000: factor 1001, which since the reset is 23/02/2025.
    # (pyboleto processes it on 11/07/2012; 12 years after the due date is outside the window, so read
    # on that day it is the 2025 date: the window favours recent dates, as a collector needs.)
    line = "04192.11107 29000.150226 83256.340593 8 10010000055000"
    assert boleto.parse(line, today=date(2000, 7, 4)).due_date == date(2000, 7, 4)
    assert boleto.parse(line, today=date(2012, 7, 11)).due_date == date(2025, 2, 23)
    assert boleto.parse(line, today=date(2025, 6, 10)).due_date == date(2025, 2, 23)
    # boleto-utils' factor 8981 (10/05/2022) stays in the old cycle now, and would be 30/12/2046 when
    # that date is nearer than 2022 (9000 days later).
    code = "10499898100000214032006561000100040099726390"
    assert boleto.parse(code, today=date(2026, 1, 1)).due_date == date(2022, 5, 10)
    assert boleto.parse(code, today=date(2045, 1, 1)).due_date == date(2022, 5, 10) + timedelta(days=9000)


def test_factor_window_is_3000_days_back_and_6000_ahead() -> None:
    today = date(2030, 1, 1)
    oldest = today - timedelta(days=boleto.WINDOW_PAST_DAYS)
    latest = today + timedelta(days=boleto.WINDOW_FUTURE_DAYS - 1)
    assert boleto.due_date_from_factor(boleto.due_factor(oldest), today=today) == oldest
    assert boleto.due_date_from_factor(boleto.due_factor(latest), today=today) == latest
    too_old = oldest - timedelta(days=1)
    assert boleto.due_date_from_factor(boleto.due_factor(too_old), today=today) == too_old + timedelta(
        days=9000
    )
    assert boleto.WINDOW_PAST_DAYS + boleto.WINDOW_FUTURE_DAYS == boleto.CYCLE_DAYS == 9000


def test_every_date_of_two_cycles_round_trips_through_its_factor() -> None:
    start = date(2000, 7, 3)
    for offset in range(0, 18000, 7):
        due = start + timedelta(days=offset)
        assert 1000 <= boleto.due_factor(due) <= 9999
        assert boleto.due_date_from_factor(boleto.due_factor(due), today=due) == due


def test_factor_zero_is_no_due_date_and_small_factors_are_invalid() -> None:
    assert boleto.due_date_from_factor(0) is None
    for factor in (1, 999, 10000):
        with pytest.raises(InvalidBoleto, match="factor"):
            boleto.due_date_from_factor(factor, today=date(2025, 1, 1))
    with pytest.raises(InvalidBoleto, match="2000-07-03"):
        boleto.due_factor(date(2000, 7, 2))
    with pytest.raises(TypeError):
        boleto.due_factor(datetime(2025, 3, 1, 12, 0))  # type: ignore[arg-type]


def test_default_today_is_used_when_none_is_given() -> None:
    # A factor one day after today's is tomorrow, whatever today is (the window is years wide, so the
    # machine's time zone does not matter).
    today = date.today()
    assert boleto.due_date_from_factor(boleto.due_factor(today + timedelta(days=1))) == today + timedelta(
        days=1
    )


# ------------------------------------------------------------------------------ bad check digits


BANK_LINE = "10498019522508615658270000004146153880000295295"  # pyboleto-caixa
BANK_BARCODE = "10491538800002952958019525086156587000000414"
MOD10_LINE = "846300000003299902962024004101360008002006441147"  # boleto-utils-mod10
MOD11_LINE = "858900000018097802702000323858108001011520190292"  # VerificadorBoletoBr


@pytest.mark.parametrize(("index", "field"), [(9, 1), (20, 2), (31, 3)])
def test_bad_field_check_digit_of_a_bank_line(index: int, field: int) -> None:
    with pytest.raises(InvalidBoleto, match=f"field {field} check digit \\(mod 10\\) is"):
        boleto.parse(other_digit(BANK_LINE, index))


def test_bad_general_check_digit_of_a_bank_line_and_barcode() -> None:
    with pytest.raises(InvalidBoleto, match="general check digit \\(mod 11"):
        boleto.parse(other_digit(BANK_LINE, 32))
    with pytest.raises(InvalidBoleto, match=r"general check digit \(mod 11.* is 2, expected 1"):
        boleto.parse(with_digit(BANK_BARCODE, 4, "2"))
    # A typo in the amount is what the general check digit is there for.
    with pytest.raises(InvalidBoleto, match="general check digit"):
        boleto.parse(BANK_LINE[:-1] + "6")


def test_any_single_digit_typo_in_the_first_three_fields_is_caught() -> None:
    # Modulo 10 with weights 2 and 1 catches every single substitution in the field it protects.
    for index in range(32):
        for digit in "0123456789":
            if digit != BANK_LINE[index]:
                with pytest.raises(InvalidBoleto):
                    boleto.parse(with_digit(BANK_LINE, index, digit))


def test_currency_other_than_real_is_rejected() -> None:
    with pytest.raises(InvalidBoleto, match=r"currency code .* is 0, expected 9"):
        boleto.parse(with_digit(BANK_BARCODE, 3, "0"))


@pytest.mark.parametrize(("line", "modulus"), [(MOD10_LINE, "mod 10"), (MOD11_LINE, "mod 11")])
@pytest.mark.parametrize("block", [1, 2, 3, 4])
def test_bad_block_check_digit_of_an_arrecadacao_line(line: str, modulus: str, block: int) -> None:
    with pytest.raises(InvalidBoleto, match=f"block {block} check digit \\({modulus}\\) is"):
        boleto.parse(other_digit(line, block * 12 - 1))


@pytest.mark.parametrize(
    ("barcode", "modulus"),
    [("84630000000299902962020041013600000200644114", "mod 10"),
     ("85890000001097802702003238581080001152019029", "mod 11")],
)  # fmt: skip
def test_bad_general_check_digit_of_an_arrecadacao_barcode(barcode: str, modulus: str) -> None:
    with pytest.raises(InvalidBoleto, match=f"arrecadação general check digit \\({modulus}"):
        boleto.parse(other_digit(barcode, 3))


def test_any_single_digit_typo_in_a_mod10_arrecadacao_line_is_caught() -> None:
    for index in range(48):
        for digit in "0123456789":
            if digit != MOD10_LINE[index] and index != 2:  # the identifier changes the rule: next test
                with pytest.raises(InvalidBoleto):
                    boleto.parse(with_digit(MOD10_LINE, index, digit))


@pytest.mark.parametrize("identifier", ["0", "1", "5"])
def test_unknown_value_identifier_is_rejected(identifier: str) -> None:
    with pytest.raises(InvalidBoleto, match=f"value identifier \\(3rd digit\\) is {identifier}"):
        boleto.parse(with_digit("84630000000299902962020041013600000200644114", 2, identifier))


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("length", [1, 43, 45, 46, 49, 72])
def test_wrong_lengths_are_rejected(length: int) -> None:
    with pytest.raises(InvalidBoleto, match=f"has {length} digits; expected 44 .*47 .*48"):
        boleto.parse(("8" + BANK_LINE * 2)[:length])


@pytest.mark.parametrize(
    "text",
    ["jiuajs",  # boleto-utils' "Caracteres Inválidos"
     "10498.01952 25086.156582 70000.004146 1 5388000029529O",  # letter O for a zero
     "10498/01952 25086.156582 70000.004146 1 53880000295295",
     "1049801952250861565827000000414615388000029529５"],  # fullwidth digit
)  # fmt: skip
def test_garbage_is_rejected(text: str) -> None:
    with pytest.raises(InvalidBoleto, match="characters other than digits"):
        boleto.parse(text)


def test_empty_and_non_text_input() -> None:
    for text in ("", "   ", " .-. "):
        with pytest.raises(InvalidBoleto, match="empty"):
            boleto.parse(text)
    with pytest.raises(TypeError):
        boleto.parse(10498019522508615658270000004146153880000295295)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        boleto.parse(None)  # type: ignore[arg-type]


def test_a_48_digit_line_must_be_arrecadacao() -> None:
    with pytest.raises(InvalidBoleto, match="starts with 8, not 1"):
        boleto.parse(BANK_LINE + "0")


def test_boleto_utils_oversized_input_is_rejected() -> None:
    with pytest.raises(InvalidBoleto, match="72 digits"):
        boleto.parse("123482938102381039810293810938093819023810982309182301238109238109328091")


# ------------------------------------------------------------------------------------------ build


@pytest.mark.parametrize(("line", "barcode", "bank", "amount", "due", "as_of"), BANK_PAIRS[:4])
def test_build_reproduces_pyboleto(
    line: str, barcode: str, bank: str, amount: int, due: date, as_of: date
) -> None:
    built = boleto.build(bank, amount, due, barcode[19:])
    assert (built.barcode, built.linha_digitavel) == (barcode, digits_only(line))
    assert boleto.format_linha(built) == line
    assert boleto.parse(built.linha_digitavel, today=as_of) == built


def test_build_uses_the_free_field_as_given() -> None:
    # pyboleto's Banrisul test states the campo livre separately.
    built = boleto.build("041", 55000, date(2000, 7, 4), "2111029000150228325634059")
    assert built.barcode == "04198100100000550002111029000150228325634059"


def test_build_after_the_reset_and_parse_back() -> None:
    for due, factor in (
        (date(2025, 2, 21), "9999"),
        (date(2025, 2, 22), "1000"),
        (date(2026, 7, 15), "1508"),
    ):
        built = boleto.build("001", 123456, due, "1234567890123456789012345")
        assert built.barcode[5:9] == factor and built.linha_digitavel[33:37] == factor
        assert built.due_date == due and built.amount_cents == 123456
        assert boleto.parse(boleto.format_linha(built), today=date(2025, 6, 10)) == built


def test_build_without_due_date_or_amount() -> None:
    built = boleto.build("237", 0, None, "0" * 25)
    assert built.barcode[5:19] == "0" * 14
    assert (built.amount_cents, built.due_date) == (None, None)


def test_build_rejects_bad_arguments() -> None:
    due, free = date(2025, 6, 10), "0" * 25
    with pytest.raises(TypeError, match="never a float"):
        boleto.build("001", 10.5, due, free)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        boleto.build("001", True, due, free)  # type: ignore[arg-type]
    with pytest.raises(InvalidBoleto, match="amount"):
        boleto.build("001", -1, due, free)
    with pytest.raises(InvalidBoleto, match="amount"):
        boleto.build("001", 10_000_000_000, due, free)
    for bank in ("01", "0011", "abc", "800"):
        with pytest.raises(InvalidBoleto, match="bank code"):
            boleto.build(bank, 100, due, free)
    for field in ("0" * 24, "0" * 26, "a" * 25):
        with pytest.raises(InvalidBoleto, match="free field"):
            boleto.build("001", 100, due, field)
    with pytest.raises(InvalidBoleto, match="2000-07-03"):
        boleto.build("001", 100, date(1999, 12, 31), free)


# ------------------------------------------------------------------------------------ presenting


@pytest.mark.parametrize(
    ("code", "formatted"),
    [
        ("10491538800002952958019525086156587000000414",
         "10498.01952 25086.156582 70000.004146 1 53880000295295"),
        ("48190000030000515039631049960144998650000025736",
         "48190.00003 00005.150396 31049.960144 9 98650000025736"),
        ("836400000011331201380002812884627116080136181551",
         "83640000001-1 33120138000-2 81288462711-6 08013618155-1"),
        ("85890000460524601791606075930508683148300001",
         "85890000460-9 52460179160-5 60759305086-5 83148300001-0"),
    ],
)  # fmt: skip
def test_format_linha_groups_like_the_printed_boleto(code: str, formatted: str) -> None:
    assert boleto.format_linha(code) == formatted
    assert boleto.format_linha(boleto.parse(code)) == formatted


def test_format_linha_validates_text() -> None:
    with pytest.raises(InvalidBoleto):
        boleto.format_linha(other_digit(BANK_LINE, 9))


def decode_itf_row(row: list[int]) -> tuple[str, int, int]:
    """(digits, left quiet zone in px, narrow width in px) of one pixel row of an ITF barcode."""
    dark = [value < 128 for value in row]
    first, last = dark.index(True), len(dark) - 1 - dark[::-1].index(True)
    runs: list[int] = []
    for x in range(first, last + 1):
        if runs and dark[x] == dark[x - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    narrow = min(runs)
    widths = "".join("W" if run > 1.5 * narrow else "N" for run in runs)
    assert widths[:4] == "NNNN" and widths[-3:] == "WNN", "start or stop pattern missing"
    body = widths[4:-3]
    assert len(body) % 10 == 0
    digits = ""
    for i in range(0, len(body), 10):
        digits += ITF_PATTERNS[body[i : i + 10 : 2]] + ITF_PATTERNS[body[i + 1 : i + 10 : 2]]
    return digits, first, narrow


def test_barcode_png_is_a_readable_interleaved_2_of_5() -> None:
    slip = boleto.parse("10498.01952 25086.156582 70000.004146 1 53880000295295", today=date(2012, 7, 3))
    png = boleto.barcode_png(slip)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert 600 <= width <= 1200 and 100 <= height <= 300  # fits a phone held sideways
    gray = image.convert("L")
    row = [gray.getpixel((x, height // 2)) for x in range(width)]
    digits, quiet_zone, narrow = decode_itf_row(row)
    assert digits == slip.barcode
    assert narrow >= 2 and quiet_zone >= 10 * narrow


def test_barcode_png_accepts_a_code_and_can_print_the_digits() -> None:
    code = "85890000460-9 52460179160-5 60759305086-5 83148300001-0"
    plain, with_text = boleto.barcode_png(code), boleto.barcode_png(code, with_text=True)
    plain_image, text_image = Image.open(io.BytesIO(plain)), Image.open(io.BytesIO(with_text))
    assert text_image.size[0] == plain_image.size[0] and text_image.size[1] > plain_image.size[1]
    gray = plain_image.convert("L")
    row = [gray.getpixel((x, plain_image.size[1] // 2)) for x in range(plain_image.size[0])]
    assert decode_itf_row(row)[0] == "85890000460524601791606075930508683148300001"
    with pytest.raises(InvalidBoleto):
        boleto.barcode_png(other_digit(digits_only(code), 11))


def test_boleto_is_immutable() -> None:
    slip = boleto.parse(BANK_BARCODE, today=date(2012, 7, 3))
    assert isinstance(slip, Boleto)
    with pytest.raises(AttributeError):
        slip.amount_cents = 1  # type: ignore[misc]
