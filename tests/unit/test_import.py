"""Tests for bot.imports: CSV reading, row validation with line numbers, idempotency, status rules."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.db import Database
from bot.imports import (
    ImportFileError,
    ImportReport,
    InvalidCreditor,
    RowError,
    import_debtors,
    import_invoices,
    list_creditors,
    upsert_creditor,
)
from bot.imports.fields import CellError, parse_consent, parse_date, parse_status, parse_value
from bot.imports.reading import decode, header_key
from bot.models import AuditLog, Channel, Creditor, Debtor, Invoice, InvoiceStatus, OptOutEvent

# Valid CPFs (check digits verified) and one that fails them.
CPF_ANA = "473.847.228-37"
CPF_JOAO = "447.937.579-10"
CPF_MARIA = "274.781.240-54"
CPF_JOSE = "341.773.324-37"
CPF_UNKNOWN = "328.202.088-00"
CPF_OTHER = "398.418.629-05"
CPF_BAD_DIGITS = "473.847.228-38"
CNPJ_LOJA = "11.222.333/0001-81"
CNPJ_OUTRA = "41.820.537/0001-85"

DEBTORS_HEADER = "nome;cpf;telefone;telefone2;email;uf;consentimento_whatsapp;consentimento_sms"
INVOICES_HEADER = (
    "referencia;cpf;valor;vencimento;descricao;status;linha_digitavel;pix_copia_e_cola;link_pagamento"
)


def write(
    tmp_path: Path, name: str, lines: list[str], encoding: str = "utf-8", newline: str = "\r\n"
) -> Path:
    path = tmp_path / name
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


def digits(cpf: str) -> str:
    return "".join(c for c in cpf if c.isdigit())


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def debtor(db: Database, cpf: str) -> Debtor:
    with db.session() as session:
        return session.scalars(select(Debtor).where(Debtor.cpf == digits(cpf))).one()


def invoice(db: Database, ref: str) -> Invoice:
    with db.session() as session:
        return session.scalars(select(Invoice).where(Invoice.external_ref == ref)).one()


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def lines_of(report: ImportReport) -> dict[int, str]:
    return {e.line: e.reason for e in report.errors}


@pytest.fixture
def creditor(db: Database) -> str:
    upsert_creditor(db, cnpj=CNPJ_LOJA, legal_name="Loja Exemplo Ltda", contact_channel="SAC 0800 000 0000")
    return CNPJ_LOJA


@pytest.fixture
def debtors_loaded(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "devedores.csv",
        [
            DEBTORS_HEADER,
            f"Ana Luíza Conceição;{CPF_ANA};(11) 98765-4321;;;;sim;",
            f"João Araújo;{CPF_JOAO};21 99876-5432;;;;;",
            f"Maria Ribeiro;{CPF_MARIA};(31) 8123-4567;;;;;",
        ],
    )
    report = import_debtors(db, path)
    assert report.created == 3 and report.ok


# ------------------------------------------------------------------------------------------ debtors


def test_bad_debtor_rows_are_reported_with_line_and_reason_and_good_rows_imported(
    db: Database, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "devedores.csv",
        [
            DEBTORS_HEADER,
            f"Ana Luíza Conceição;{CPF_ANA};(11) 98765-4321;;ana@example.com;;sim;não",  # 2 ok
            f"Pedro Errado;{CPF_BAD_DIGITS};(11) 98765-0000;;;;;",  # 3 check digits
            f"Carla Sem Fone;{CPF_JOAO};12345;;;;;",  # 4 phone
            f";{CPF_MARIA};(31) 98123-4567;;;;;",  # 5 empty name
            "",  # 6 blank line: skipped, still counted as a line
            f"José Antônio Lima;{CPF_JOSE};+55 71 99123-4567;(71) 3456-7890;;;;",  # 7 ok, landline warning
            f"Ana Repetida;{CPF_ANA};(11) 98765-4321;;;;;",  # 8 duplicate of line 2
            f"Outro Estado;{CPF_UNKNOWN};(11) 98765-1111;;;XX;;",  # 9 bad UF
            "Sem CPF;;(11) 98765-2222;;nao-e-email;;;",  # 10 empty CPF and bad e-mail
            f"Consentimento Futuro;{CPF_OTHER};(31) 98123-4567;;;;01/01/2099;",  # 11 future consent
            f"Maria Corrigida;{CPF_MARIA};(31) 98123-4567;;;;;",  # 12 line 5 claimed this CPF
        ],
    )
    report = import_debtors(db, path)

    assert report.created == 2
    assert report.updated == report.unchanged == 0
    errors = lines_of(report)
    assert sorted(errors) == [3, 4, 5, 8, 9, 10, 11, 12]
    assert errors[3] == "CPF inválido (dígitos verificadores não conferem)"
    assert errors[4].startswith("telefone inválido")
    assert errors[5] == "nome vazio"
    assert errors[8] == "CPF ***.847.228-** repetido no arquivo (já aparece na linha 2)"
    assert errors[9].startswith("UF inválida 'XX'")
    assert errors[10] == "CPF vazio; e-mail inválido"
    assert errors[11] == "consentimento_whatsapp com data no futuro (01/01/2099)"
    assert errors[12] == "CPF ***.781.240-** repetido no arquivo (já aparece na linha 5)"
    assert [str(w) for w in report.warnings] == [
        "linha 7: o telefone2 é fixo: SMS e WhatsApp precisam de celular"
    ]
    assert count(db, Debtor) == 2

    ana = debtor(db, CPF_ANA)
    assert ana.name == "Ana Luíza Conceição"
    assert ana.phone == "+5511987654321"
    assert ana.email == "ana@example.com"
    assert (ana.state, ana.timezone) == ("SP", "America/Sao_Paulo")
    assert ana.whatsapp_consent_at is not None and ana.sms_consent_at is None
    jose = debtor(db, CPF_JOSE)
    assert (jose.state, jose.timezone) == ("BA", "America/Bahia")
    assert jose.phone_secondary == "+557134567890"


def test_no_full_cpf_in_any_message(db: Database, tmp_path: Path, creditor: str) -> None:
    path = write(
        tmp_path,
        "d.csv",
        [DEBTORS_HEADER, f"A;{CPF_ANA};(11) 98765-4321;;;;;", f"B;{CPF_ANA};(11) 98765-4322;;;;;"],
    )
    debtors_report = import_debtors(db, path)
    invoices_path = write(tmp_path, "f.csv", [INVOICES_HEADER, f"F1;{CPF_UNKNOWN};10,00;01/02/2025;;;;;"])
    invoices_report = import_invoices(db, invoices_path)
    messages = [str(e) for e in debtors_report.errors + invoices_report.errors]
    assert len(messages) == 2
    for message in messages:
        for cpf in (CPF_ANA, CPF_UNKNOWN):
            assert cpf not in message and digits(cpf) not in message.replace(".", "").replace("-", "")
    assert messages[1] == (
        "linha 2: devedor com CPF ***.202.088-** não encontrado; importe os devedores antes"
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252"])
@pytest.mark.parametrize("separator", [";", ","])
def test_encodings_and_separators(db: Database, tmp_path: Path, encoding: str, separator: str) -> None:
    rows = [
        ["Nome", "CPF", "Telefone", "Observações"],
        ["João Conceição Araújo", CPF_JOAO, "(21) 99876-5432", "Cliente desde 2019; ótimo pagador"],
        ["Sebastião Gonçalves", CPF_MARIA, "31 98123-4567", ""],
    ]

    def cell(value: str) -> str:
        return f'"{value}"' if separator in value else value

    path = write(tmp_path, "d.csv", [separator.join(cell(v) for v in row) for row in rows], encoding)
    report = import_debtors(db, path)
    assert report.ok and report.created == 2
    assert report.separator == {";": "';'", ",": "','"}[separator]
    expected_label = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 com BOM", "latin-1": "Windows-1252"}
    assert report.encoding == expected_label.get(encoding, "Windows-1252")
    joao = debtor(db, CPF_JOAO)
    assert joao.name == "João Conceição Araújo"
    assert joao.notes == "Cliente desde 2019; ótimo pagador"
    assert debtor(db, CPF_MARIA).name == "Sebastião Gonçalves"


def test_decode_falls_back_to_cp1252_and_latin1() -> None:
    assert decode("Conceição".encode("cp1252")) == ("Conceição", "Windows-1252")
    assert decode("“aspas”".encode("cp1252"))[0] == "“aspas”"
    assert decode(b"\x81abc")[1] == "Latin-1"  # 0x81 is undefined in cp1252
    assert decode("\ufeffnome".encode()) == ("nome", "UTF-8 com BOM")


def test_headers_are_case_accent_and_space_insensitive_with_aliases(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.csv",
        [
            "NOME COMPLETO , CPF do Cliente,Celular,E-MAIL,Estado,Código Interno",
            f"Maria das Graças,{CPF_MARIA},31981234567,graca@example.com,Minas Gerais,X-1",
        ],
    )
    report = import_debtors(db, path)
    assert report.ok and report.created == 1
    assert report.ignored_columns == ["Código Interno"]
    maria = debtor(db, CPF_MARIA)
    assert (maria.name, maria.email, maria.state) == ("Maria das Graças", "graca@example.com", "MG")
    assert header_key(" Consentimento  WhatsApp ") == header_key("consentimento_whatsapp")


def test_missing_required_column_is_one_error_and_nothing_is_imported(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", ["nome;cpf;email", f"Ana;{CPF_ANA};a@example.com"])
    with pytest.raises(ImportFileError, match=r"falta a coluna obrigatória telefone .*Nada foi importado"):
        import_debtors(db, path)
    assert count(db, Debtor) == 0
    assert count(db, AuditLog) == 0


def test_empty_file_and_missing_file_and_duplicate_columns(db: Database, tmp_path: Path) -> None:
    empty = tmp_path / "vazio.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileError, match="vazio"):
        import_debtors(db, empty)
    with pytest.raises(ImportFileError, match="arquivo não encontrado"):
        import_debtors(db, tmp_path / "nao-existe.csv")
    twice = write(tmp_path, "d.csv", ["nome;cpf;telefone;celular", f"Ana;{CPF_ANA};11987654321;11987654321"])
    with pytest.raises(ImportFileError, match=r"'telefone' \(coluna C\) e 'celular' \(coluna D\)"):
        import_debtors(db, twice)


def test_reimporting_debtors_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.csv",
        [
            DEBTORS_HEADER,
            f"Ana;{CPF_ANA};(11) 98765-4321;(11) 97654-3210;ana@example.com;;sim;15/03/2024",
            f"João;{CPF_JOAO};(21) 99876-5432;;;AM;não;",
        ],
    )
    first = import_debtors(db, path)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    before = {d.cpf: (d.updated_at, d.whatsapp_consent_at) for d in _all_debtors(db)}

    second = import_debtors(db, path)
    assert (second.created, second.updated, second.unchanged, second.failed) == (0, 0, 2, 0)
    assert {d.cpf: (d.updated_at, d.whatsapp_consent_at) for d in _all_debtors(db)} == before
    with db.session() as session:
        imports = select(AuditLog).where(AuditLog.action == "import.debtors").order_by(AuditLog.id)
        audits = session.scalars(imports).all()
    assert [(a.details["created"], a.details["unchanged"]) for a in audits] == [(2, 0), (0, 2)]
    # No personal data in the audit log.
    dumped = json.dumps([a.details for a in audits])
    assert digits(CPF_ANA) not in dumped and "Ana" not in dumped


def _all_debtors(db: Database) -> list[Debtor]:
    with db.session() as session:
        return list(session.scalars(select(Debtor)))


def test_changed_debtor_value_updates_the_row(db: Database, tmp_path: Path) -> None:
    rows = [DEBTORS_HEADER, f"Ana;{CPF_ANA};(11) 98765-4321;;;;;", f"João;{CPF_JOAO};(21) 99876-5432;;;;;"]
    import_debtors(db, write(tmp_path, "d.csv", rows))
    joao_before = debtor(db, CPF_JOAO).updated_at
    rows[1] = f"Ana Luíza;{CPF_ANA};(68) 99988-7766;;ana@example.com;;;"
    report = import_debtors(db, write(tmp_path, "d2.csv", rows))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    ana = debtor(db, CPF_ANA)
    assert (ana.name, ana.phone, ana.email) == ("Ana Luíza", "+5568999887766", "ana@example.com")
    assert (ana.state, ana.timezone) == ("AC", "America/Rio_Branco")
    assert debtor(db, CPF_JOAO).updated_at == joao_before


def test_uf_column_overrides_the_phone_state(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", [DEBTORS_HEADER, f"Ana;{CPF_ANA};(11) 98765-4321;;;am;;"])
    import_debtors(db, path)
    ana = debtor(db, CPF_ANA)
    assert (ana.state, ana.timezone) == ("AM", "America/Manaus")


def test_consent_rules(db: Database, tmp_path: Path) -> None:
    header = "nome;cpf;telefone;consentimento_whatsapp;consentimento_sms"
    rows = [header, f"Ana;{CPF_ANA};(11) 98765-4321;15/03/2024;sim", f"João;{CPF_JOAO};(21) 99876-5432;não;"]
    import_debtors(db, write(tmp_path, "d.csv", rows))
    ana = debtor(db, CPF_ANA)
    # A date is midnight in Brasília (UTC-3), stored in UTC.
    assert aware(ana.whatsapp_consent_at) == datetime(2024, 3, 15, 3, 0, tzinfo=UTC)
    sms_consent = aware(ana.sms_consent_at)
    assert sms_consent is not None and datetime.now(UTC) - sms_consent < timedelta(minutes=5)
    joao = debtor(db, CPF_JOAO)
    assert joao.whatsapp_consent_at is None and joao.sms_consent_at is None
    with db.session() as session:
        events = session.execute(select(OptOutEvent.channel, OptOutEvent.source, OptOutEvent.address)).all()
    assert sorted(events) == [
        (Channel.SMS, "import", "+5511987654321"),
        (Channel.WHATSAPP, "import", "+5511987654321"),
    ]

    # "não" never withdraws consent (that is an opt-out); an opted-out channel is not re-consented.
    with db.session() as session:
        stored = session.scalars(select(Debtor).where(Debtor.cpf == digits(CPF_JOAO))).one()
        stored.whatsapp_opted_out_at = datetime(2024, 6, 1, tzinfo=UTC)
    rows = [header, f"Ana;{CPF_ANA};(11) 98765-4321;não;não", f"João;{CPF_JOAO};(21) 99876-5432;sim;"]
    report = import_debtors(db, write(tmp_path, "d2.csv", rows))
    assert (report.updated, report.unchanged) == (0, 2)
    assert [w.line for w in report.warnings] == [3]
    assert "pediu para não receber mensagens" in report.warnings[0].reason
    assert aware(debtor(db, CPF_ANA).whatsapp_consent_at) == datetime(2024, 3, 15, 3, 0, tzinfo=UTC)
    assert debtor(db, CPF_JOAO).whatsapp_consent_at is None


def test_line_numbers_count_physical_lines_with_quoted_newlines_and_sep_hint(
    db: Database, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "d.csv",
        [
            "sep=;",  # line 1: Excel's separator hint; header on line 2
            "nome;cpf;telefone;observacoes",
            f'Ana;{CPF_ANA};(11) 98765-4321;"primeira linha',  # 3
            'segunda linha"',  # 4 (same record)
            f"Errado;{CPF_BAD_DIGITS};(11) 98765-4322;",  # 5
            f"Demais;{CPF_JOAO};(21) 99876-5432;obs;extra",  # 6: more cells than the header
        ],
    )
    report = import_debtors(db, path)
    assert report.created == 1
    assert [e.line for e in report.errors] == [5, 6]
    assert "5 colunas e o cabeçalho, 4" in report.errors[1].reason
    assert debtor(db, CPF_ANA).notes == "primeira linha\r\nsegunda linha"


def test_scientific_notation_cpf_gets_a_hint(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", ["nome;cpf;telefone", "Ana;4,73847E+10;(11) 98765-4321"])
    report = import_debtors(db, path)
    assert "notação científica" in report.errors[0].reason


def test_cpf_that_lost_its_leading_zero_in_a_spreadsheet(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", ["nome;cpf;telefone", "Mirella;1652580808;(75) 98466-1907"])
    report = import_debtors(db, path)
    assert report.ok
    assert debtor(db, "01652580808").name == "Mirella"


def test_import_from_an_open_file(db: Database) -> None:
    data = f"{DEBTORS_HEADER}\nAna;{CPF_ANA};(11) 98765-4321;;;;;\n".encode("cp1252")
    report = import_debtors(db, io.BytesIO(data))
    assert report.ok and report.created == 1 and report.encoding == "UTF-8"


# ----------------------------------------------------------------------------------------- invoices


def test_bad_invoice_rows_are_reported_and_good_rows_imported(
    db: Database, tmp_path: Path, creditor: str, debtors_loaded: None
) -> None:
    line = "00190.00009 01234.567897 01234.567897 1 99570000123456"
    pay = "000201abc;https://pay.example.com/1"
    path = write(
        tmp_path,
        "faturas.csv",
        [
            INVOICES_HEADER,
            f"F-1;{CPF_ANA};1.234,56;10/01/2025;Parcela 1/3;aberta;{line};{pay}",  # 2
            f"F-2;{CPF_ANA};12,3,4;10/01/2025;;;;;",  # 3
            f"F-3;{CPF_UNKNOWN};10,00;10/01/2025;;;;;",  # 4
            f"F-4;{CPF_JOAO};10,00;31/02/2025;;;;;",  # 5
            f"F-1;{CPF_JOAO};99,00;2025-02-01;;;;;",  # 6 duplicate ref
            f"F-5;{CPF_JOAO};-5,00;2025-02-01;;;;;",  # 7
            f"F-6;{CPF_JOAO};5,00;2025-02-01;;quitada?;;;",  # 8
            f"F-7;{CPF_JOAO};5,00;2025-02-01;;;123;;",  # 9
            f"F-8;{CPF_JOAO};5,00;2025-02-01;;;;;pay.example.com",  # 10
            f";{CPF_JOAO};5,00;2025-02-01;;;;;",  # 11
            f"F-9;{CPF_MARIA};R$ 79,90;2025-03-05;;paga;;;",  # 12
            f"F-10;{CPF_BAD_DIGITS};1,00;2025-03-05;;;;;",  # 13
        ],
    )
    report = import_invoices(db, path)

    errors = lines_of(report)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert errors[3] == "valor inválido '12,3,4'"
    assert errors[4] == "devedor com CPF ***.202.088-** não encontrado; importe os devedores antes"
    assert errors[5] == "vencimento inválido '31/02/2025' (data inexistente)"
    assert errors[6] == "referência 'F-1' repetida no arquivo (já aparece na linha 2)"
    assert errors[7] == "valor deve ser maior que zero (recebido '-5,00')"
    assert errors[8] == "status desconhecido 'quitada?' (use aberta, paga ou cancelada)"
    assert errors[9] == "linha digitável deve ter 47 ou 48 dígitos, tem 3"
    assert errors[10] == "link de pagamento deve começar com https://"
    assert errors[11] == "referência vazia"
    assert errors[13] == "CPF inválido (dígitos verificadores não conferem)"
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)

    f1 = invoice(db, "F-1")
    assert f1.amount_cents == 123456
    assert f1.due_date == date(2025, 1, 10)
    assert f1.status == InvoiceStatus.OPEN and f1.paid_at is None
    assert f1.description == "Parcela 1/3"
    assert f1.boleto_line == "00190000090123456789701234567897199570000123456"
    assert (f1.pix_code, f1.payment_url) == ("000201abc", "https://pay.example.com/1")
    assert f1.debtor_id == debtor(db, CPF_ANA).id
    f9 = invoice(db, "F-9")
    assert f9.amount_cents == 7990 and f9.status == InvoiceStatus.PAID and f9.paid_at is not None


def test_reimporting_invoices_changes_nothing_and_a_changed_amount_updates(
    db: Database, tmp_path: Path, creditor: str, debtors_loaded: None
) -> None:
    rows = [
        INVOICES_HEADER,
        f"F-1;{CPF_ANA};1.234,56;10/01/2025;Parcela 1/3;aberta;;;",
        f"F-2;{CPF_ANA};100,00;10/02/2025;Parcela 2/3;;;;",
        f"F-3;{CPF_JOAO};50;2025-03-10;;;;;",
    ]
    first = import_invoices(db, write(tmp_path, "f.csv", rows))
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    stamps = {i.external_ref: i.updated_at for i in _all_invoices(db)}

    again = import_invoices(db, write(tmp_path, "f.csv", rows))
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 3, 0)
    assert {i.external_ref: i.updated_at for i in _all_invoices(db)} == stamps

    rows[2] = f"F-2;{CPF_ANA};110,00;10/02/2025;Parcela 2/3;;;;"
    changed = import_invoices(db, write(tmp_path, "f2.csv", rows))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert invoice(db, "F-2").amount_cents == 11000
    assert invoice(db, "F-2").updated_at != stamps["F-2"]
    assert invoice(db, "F-1").updated_at == stamps["F-1"]
    assert count(db, Invoice) == 3

    with db.session() as session:
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "import.invoices")).all()
    assert [(a.details["created"], a.details["updated"], a.details["unchanged"]) for a in audits] == [
        (3, 0, 0),
        (0, 0, 3),
        (0, 1, 2),
    ]
    assert all(a.entity_type == "creditor" for a in audits)


def _all_invoices(db: Database) -> list[Invoice]:
    with db.session() as session:
        return list(session.scalars(select(Invoice)))


def test_status_rules(db: Database, tmp_path: Path, creditor: str, debtors_loaded: None) -> None:
    header = "referencia;cpf;valor;vencimento;status"
    import_invoices(
        db,
        write(
            tmp_path,
            "f.csv",
            [
                header,
                f"A;{CPF_ANA};10,00;01/01/2025;aberta",
                f"B;{CPF_ANA};10,00;01/01/2025;paga",
                f"C;{CPF_ANA};10,00;01/01/2025;cancelada",
                f"D;{CPF_ANA};10,00;01/01/2025;",
                f"E;{CPF_ANA};10,00;01/01/2025;aberta",
            ],
        ),
    )
    assert invoice(db, "D").status == InvoiceStatus.OPEN
    paid_at = invoice(db, "B").paid_at
    with db.session() as session:
        e = session.scalars(select(Invoice).where(Invoice.external_ref == "E")).one()
        e.status = InvoiceStatus.IN_AGREEMENT  # set by the app when the debtor accepted an agreement

    report = import_invoices(
        db,
        write(
            tmp_path,
            "f2.csv",
            [
                header,
                f"A;{CPF_ANA};10,00;01/01/2025;paid",  # open -> paid
                f"B;{CPF_ANA};10,00;01/01/2025;aberta",  # paid is never reopened: warning
                f"C;{CPF_ANA};10,00;01/01/2025;em aberto",  # cancelled -> open
                f"D;{CPF_ANA};10,00;01/01/2025;",  # empty keeps
                f"E;{CPF_ANA};10,00;01/01/2025;aberta",  # in agreement stays
            ],
        ),
    )
    assert (report.updated, report.unchanged, report.failed) == (2, 3, 0)
    a = invoice(db, "A")
    assert a.status == InvoiceStatus.PAID and a.paid_at is not None
    b = invoice(db, "B")
    assert b.status == InvoiceStatus.PAID and aware(b.paid_at) == aware(paid_at)
    assert [w.line for w in report.warnings] == [3]
    assert "nunca reabre nem cancela uma fatura paga" in report.warnings[0].reason
    assert invoice(db, "C").status == InvoiceStatus.OPEN
    assert invoice(db, "D").status == InvoiceStatus.OPEN
    assert invoice(db, "E").status == InvoiceStatus.IN_AGREEMENT


def test_an_invoice_never_moves_to_another_debtor(
    db: Database, tmp_path: Path, creditor: str, debtors_loaded: None
) -> None:
    header = "referencia;cpf;valor;vencimento"
    import_invoices(db, write(tmp_path, "f.csv", [header, f"A;{CPF_ANA};10,00;01/01/2025"]))
    report = import_invoices(db, write(tmp_path, "f2.csv", [header, f"A;{CPF_JOAO};10,00;01/01/2025"]))
    assert report.errors == [
        RowError(
            2,
            "a fatura 'A' já existe para outro devedor; uma importação não transfere faturas entre devedores",
        )
    ]
    assert invoice(db, "A").debtor_id == debtor(db, CPF_ANA).id


def test_creditor_resolution(db: Database, tmp_path: Path, debtors_loaded: None) -> None:
    header = "referencia;cpf;valor;vencimento"
    path = write(tmp_path, "f.csv", [header, f"A;{CPF_ANA};10,00;01/01/2025"])
    with pytest.raises(ImportFileError, match="nenhum credor cadastrado"):
        import_invoices(db, path)

    upsert_creditor(db, cnpj=CNPJ_LOJA, legal_name="Loja", contact_channel="SAC")
    assert import_invoices(db, path).created == 1  # the only creditor

    upsert_creditor(db, cnpj=CNPJ_OUTRA, legal_name="Outra", contact_channel="SAC")
    with pytest.raises(ImportFileError, match="há 2 credores cadastrados"):
        import_invoices(db, path)
    with pytest.raises(ImportFileError, match="CNPJ do credor inválido"):
        import_invoices(db, path, creditor_cnpj="11.222.333/0001-00")
    with pytest.raises(ImportFileError, match="não cadastrado"):
        import_invoices(db, path, creditor_cnpj="26.739.481/0001-45")
    report = import_invoices(db, path, creditor_cnpj=CNPJ_OUTRA)
    assert report.created == 1  # same reference, another creditor: another invoice

    per_row = write(
        tmp_path,
        "g.csv",
        [
            "referencia;cpf;valor;vencimento;credor_cnpj",
            f"B;{CPF_ANA};10,00;01/01/2025;{CNPJ_LOJA}",
            f"B;{CPF_ANA};10,00;01/01/2025;41820537000185",
            f"C;{CPF_ANA};10,00;01/01/2025;",
            f"D;{CPF_ANA};10,00;01/01/2025;26.739.481/0001-45",
        ],
    )
    report = import_invoices(db, per_row)
    assert report.created == 2
    assert lines_of(report) == {
        4: "credor não informado: preencha a coluna credor_cnpj ou use --creditor",
        5: "credor com CNPJ 26.739.481/0001-45 não cadastrado (use 'regua creditor add')",
    }
    with db.session() as session:
        by_creditor = dict(
            session.execute(
                select(Creditor.cnpj, func.count(Invoice.id)).join(Invoice).group_by(Creditor.cnpj)
            ).all()
        )
    assert by_creditor == {"11222333000181": 2, "41820537000185": 2}


def test_missing_invoice_column(db: Database, tmp_path: Path, creditor: str) -> None:
    path = write(tmp_path, "f.csv", ["ref;cpf", f"A;{CPF_ANA}"])
    with pytest.raises(ImportFileError, match="faltam as colunas obrigatórias valor, vencimento"):
        import_invoices(db, path)
    assert count(db, Invoice) == 0


def test_documented_examples_import_cleanly(db: Database, creditor: str) -> None:
    examples = PROJECT_ROOT / "docs" / "examples"
    debtors_report = import_debtors(db, examples / "debtors.csv")
    invoices_report = import_invoices(db, examples / "invoices.csv")
    for report in (debtors_report, invoices_report):
        assert report.ok and not report.warnings and not report.ignored_columns
        assert report.updated == report.unchanged == 0
    assert (debtors_report.created, invoices_report.created) == (8, 9)
    assert import_invoices(db, examples / "invoices.csv").unchanged == 9


# ------------------------------------------------------------------------------------------ creditors


def test_upsert_creditor_is_idempotent_on_cnpj(db: Database) -> None:
    first = upsert_creditor(db, cnpj=CNPJ_LOJA, legal_name="Loja Exemplo Ltda", contact_channel="SAC 0800 1")
    same = upsert_creditor(
        db, cnpj="11222333000181", legal_name="Loja Exemplo Ltda", contact_channel="SAC 0800 1"
    )
    changed = upsert_creditor(
        db, cnpj=CNPJ_LOJA, legal_name="Loja Exemplo Ltda", contact_channel="SAC 0800 2", trade_name="Loja"
    )
    assert (first.action, same.action, changed.action) == ("created", "unchanged", "updated")
    assert first.id == same.id == changed.id
    [row] = list_creditors(db)
    assert (row.cnpj, row.contact_channel, row.trade_name, row.invoices) == (
        "11222333000181",
        "SAC 0800 2",
        "Loja",
        0,
    )
    with pytest.raises(InvalidCreditor, match="CNPJ inválido"):
        upsert_creditor(db, cnpj="11.222.333/0001-80", legal_name="X", contact_channel="Y")
    with pytest.raises(InvalidCreditor, match="contato não pode ficar vazio"):
        upsert_creditor(db, cnpj=CNPJ_OUTRA, legal_name="X", contact_channel="  ")


# --------------------------------------------------------------------------------------- cell parsers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/01/2025", date(2025, 1, 31)),
        ("1/2/2025", date(2025, 2, 1)),
        ("31-01-2025", date(2025, 1, 31)),
        ("31.01.25", date(2025, 1, 31)),
        ("2025-01-31", date(2025, 1, 31)),
        ("2025-01-31T00:00:00", date(2025, 1, 31)),
        ("31/01/2025 00:00:00", date(2025, 1, 31)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text, "vencimento") == expected


@pytest.mark.parametrize("text", ["2025/31/01", "31/13/2025", "ontem", "01/01/1800"])
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(CellError, match="vencimento inválido"):
        parse_date(text, "vencimento")


def test_parse_value_status_and_consent() -> None:
    assert parse_value("1.234,56") == 123456
    assert parse_value("R$ 0,50") == 50
    with pytest.raises(CellError, match="mais de duas casas decimais"):
        parse_value("1,234")
    with pytest.raises(CellError, match="valor vazio"):
        parse_value("")
    assert parse_status("PAGA") == InvoiceStatus.PAID
    assert parse_status("Em Aberto") == InvoiceStatus.OPEN
    assert parse_status("cancelled") == InvoiceStatus.CANCELLED
    assert parse_status("") is None
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert parse_consent("Sim", now) is True
    assert parse_consent("NÃO", now) is False
    assert parse_consent("", now) is None
    assert parse_consent("01/05/2025", now) == datetime(2025, 5, 1, 3, tzinfo=UTC)
