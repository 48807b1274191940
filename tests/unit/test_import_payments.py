"""Tests for `bot.imports.payments` and `regua import payments`: a creditor's file of payments received,
applied through `bot.payments.confirmations.apply` like the payment webhook.

The importer itself needs no Redis: its tests use settings without REDIS_URL. Only the CLI test that checks
the thank-you delivery is enqueued uses the test Redis.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.config import PROJECT_ROOT, Settings, get_settings, load_settings
from bot.db import Database
from bot.documents import normalize_cnpj
from bot.imports import (
    ImportFileError,
    PaymentImportReport,
    import_payments,
    upsert_creditor,
)
from bot.imports.fields import BRAZIL_TZ, CellError
from bot.imports.payments import PROVIDER, parse_paid_at
from bot.models import (
    Agreement,
    AgreementStatus,
    AuditLog,
    Channel,
    Conversation,
    Creditor,
    Direction,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    Message,
    MessageStatus,
    Payment,
    as_utc,
)
from tests.conftest import CNPJ, PHONE, People

CNPJ_SHOWN = "11.222.333/0001-81"
CNPJ_OUTRA = "41.820.537/0001-85"
EXAMPLES = PROJECT_ROOT / "docs" / "examples"
TODAY = datetime.now(UTC).astimezone(BRAZIL_TZ).date()


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    """Settings without Redis: the importer must not need it."""
    return load_settings(
        {
            "REGUA_ENV": "test",
            "REGUA_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "test-secret-key-0123456789",
        }
    )


def write(tmp_path: Path, lines: list[str], encoding: str = "utf-8", name: str = "pagamentos.csv") -> Path:
    path = tmp_path / name
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def run_import(
    db: Database, settings: Settings, source: Path | io.StringIO, creditor: str | None = None
) -> PaymentImportReport:
    return import_payments(db, source, creditor, settings=settings)


def invoice(db: Database, ref: str) -> Invoice:
    with db.session() as session:
        return session.scalars(select(Invoice).where(Invoice.external_ref == ref)).one()


def payments(db: Database) -> list[Payment]:
    with db.session() as session:
        return list(session.scalars(select(Payment).order_by(Payment.id)))


def errors_of(report: PaymentImportReport) -> dict[int, str]:
    return {e.line: e.reason for e in report.errors}


def warnings_of(report: PaymentImportReport) -> dict[int, str]:
    return {w.line: w.reason for w in report.warnings}


def make_agreement(db: Database, people: People, amounts: tuple[int, ...] = (8000, 7990)) -> int:
    """An active agreement over F-1 with one instalment per amount; returns its id."""
    with db.session() as s:
        f1 = s.scalars(select(Invoice).where(Invoice.external_ref == "F-1")).one()
        f1.status = InvoiceStatus.IN_AGREEMENT
        agreement = Agreement(
            creditor_id=people.creditor_id,
            debtor_id=people.debtor_id,
            debt_cents=f1.amount_cents,
            total_cents=sum(amounts),
            invoices=[f1],
        )
        for number, amount in enumerate(amounts, start=1):
            agreement.instalments.append(
                Instalment(number=number, amount_cents=amount, due_date=TODAY + timedelta(days=30 * number))
            )
        s.add(agreement)
        s.flush()
        return agreement.id


# ------------------------------------------------------------------------------------------ parsing


def test_payment_dates_are_brasilia_time_stored_in_utc() -> None:
    today = date(2025, 6, 1)
    assert parse_paid_at("10/03/2025", today) == datetime(2025, 3, 10, 3, 0, tzinfo=UTC)
    assert parse_paid_at("10/03/2025 14:30", today) == datetime(2025, 3, 10, 17, 30, tzinfo=UTC)
    assert parse_paid_at("2025-03-10 14:30:15", today) == datetime(2025, 3, 10, 17, 30, 15, tzinfo=UTC)
    assert parse_paid_at("2025-03-10T14:30:00-02:00", today) == datetime(2025, 3, 10, 16, 30, tzinfo=UTC)
    assert parse_paid_at("2025-03-10T14:30:00Z", today) == datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
    assert parse_paid_at("01/06/2025 23:59", today) == datetime(2025, 6, 2, 2, 59, tzinfo=UTC)
    with pytest.raises(CellError, match=r"^data do pagamento no futuro \(02/06/2025\)$"):
        parse_paid_at("02/06/2025", today)
    with pytest.raises(CellError, match=r"^data do pagamento inválida '31/02/2025' \(data inexistente\)$"):
        parse_paid_at("31/02/2025", today)
    with pytest.raises(
        CellError, match=r"^data do pagamento inválida '10/03/2025 25:00' \(hora inexistente\)$"
    ):
        parse_paid_at("10/03/2025 25:00", today)
    with pytest.raises(CellError, match=r"^data do pagamento vazia$"):
        parse_paid_at("", today)


# ------------------------------------------------------------------------------------------ importer


def test_utf8_semicolon_file_with_portuguese_headers_marks_invoices_paid(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        [
            "Referência;Valor Pago;Data do Pagamento;Observação",
            "F-1;R$ 159,90;10/03/2025 14:30;pago no caixa",
            "F-2;200;2025-03-11;",
        ],
    )
    report = run_import(db, plain_settings, path)
    assert (report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, [])
    assert report.warnings == [] and report.ok
    assert report.label == "Pagamentos" and report.kind == "payments"
    assert (
        report.encoding == "UTF-8" and report.separator == "';'" and report.ignored_columns == ["Observação"]
    )
    assert str(report) == "Pagamentos: 2 criados, 0 atualizados, 0 sem alteração, 0 com erro"

    f1 = invoice(db, "F-1")
    assert f1.status == InvoiceStatus.PAID
    assert as_utc(f1.paid_at) == datetime(2025, 3, 10, 17, 30, tzinfo=UTC)
    assert as_utc(invoice(db, "F-2").paid_at) == datetime(2025, 3, 11, 3, 0, tzinfo=UTC)
    stored = payments(db)
    assert [(p.provider, p.amount_cents, p.details["reference"]) for p in stored] == [
        (PROVIDER, 15990, "F-1"),
        (PROVIDER, 20000, "F-2"),
    ]
    assert all(p.creditor_id == people.creditor_id and p.external_id.startswith("auto:") for p in stored)
    with db.session() as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "import.payments")).one()
        assert entry.details["created"] == 2 and entry.details["outcomes"] == {"paid": 2}
        assert entry.details["creditor_ids"] == [people.creditor_id]
        assert (
            s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "payment.paid")) == 2
        )


def test_latin1_comma_file_and_text_streams(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        ["Referência,Valor,Pago em,Autenticação", 'F-1,"159,90",10/03/2025,AUT-1'],
        encoding="latin-1",
    )
    report = run_import(db, plain_settings, path)
    assert report.encoding == "Windows-1252" and report.separator == "','"
    assert (report.created, report.errors) == (1, [])
    assert payments(db)[0].external_id == f"{CNPJ}:AUT-1"  # a file's own id, scoped by the creditor

    stream = io.StringIO("fatura;valor;data\nF-2;200,00;11/03/2025\n")
    report = run_import(db, plain_settings, stream)
    assert (report.created, report.errors) == (1, [])
    assert invoice(db, "F-2").status == InvoiceStatus.PAID


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_applied(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    tomorrow = TODAY + timedelta(days=1)
    path = write(
        tmp_path,
        [
            "referencia;valor;data_pagamento;cnpj_credor;id",
            "F-1;159,90;10/03/2025;;",  # 2 ok
            ";10,00;10/03/2025;;",  # 3 no reference
            "F-2;12,3,4;10/03/2025;;",  # 4 bad amount
            "F-2;200,00;31/02/2025;;",  # 5 bad date
            f"F-2;200,00;{tomorrow:%d/%m/%Y};;",  # 6 future date
            "NAO-EXISTE;10,00;10/03/2025;;",  # 7 unknown reference
            f"F-2;200,00;10/03/2025;{CNPJ_OUTRA};",  # 8 unknown creditor
            "F-2;200,00;10/03/2025;11.222.333/0001-80;",  # 9 invalid CNPJ
            "F-1;159,90;10/03/2025;;",  # 10 same payment as line 2
            "F-2;0,00;;;",  # 11 several problems
            "F-2;1,00;10/03/2025;;X1",  # 12 ok: partial (warning)
            "F-2;2,00;10/03/2025;;X1",  # 13 id repeated
            "F-2;10,00;10/03/2025;;" + "9" * 81,  # 14 id too long
            "F-0;50,00;10/03/2025;;",  # 15 already paid (warning)
            "F-1;1;2;3;4;5",  # 16 too many columns
        ],
    )
    report = run_import(db, plain_settings, path)
    assert errors_of(report) == {
        3: "referência vazia",
        4: "valor inválido '12,3,4'",
        5: "data do pagamento inválida '31/02/2025' (data inexistente)",
        6: f"data do pagamento no futuro ({tomorrow:%d/%m/%Y})",
        7: f"nenhuma fatura do credor {CNPJ_SHOWN} com a referência 'NAO-EXISTE' (importe as faturas antes)",
        8: f"credor com CNPJ {CNPJ_OUTRA} não cadastrado (use 'regua creditor add')",
        9: "CNPJ do credor inválido (dígitos verificadores não conferem)",
        10: (
            "pagamento repetido no arquivo (mesma referência, data e valor da linha 2); se foram dois "
            "pagamentos, diferencie-os com a coluna id"
        ),
        11: "valor deve ser maior que zero (recebido '0,00'); data do pagamento vazia",
        13: "identificador 'X1' repetido no arquivo (já aparece na linha 12)",
        14: "identificador longo demais (81 caracteres; máximo 80)",
        16: "a linha tem 6 colunas e o cabeçalho, 5 (um valor com ';' sem aspas?)",
    }
    assert warnings_of(report) == {
        12: (
            "pagamento parcial: R$ 1,00 de R$ 200,00; o pagamento foi registrado e a fatura F-2 continua "
            "em aberto"
        ),
        15: (
            "A fatura F-0 já constava como paga; o pagamento de R$ 50,00 foi registrado sem outra alteração "
            "(confira se houve pagamento em duplicidade)"
        ),
    }
    assert (report.created, report.updated, report.unchanged, report.failed) == (2, 0, 1, 12)
    assert report.rows == 15 and not report.ok
    assert invoice(db, "F-1").status == InvoiceStatus.PAID
    assert invoice(db, "F-2").status == InvoiceStatus.OPEN
    assert len(payments(db)) == 3  # F-1, the partial F-2 and the late F-0


def test_reimporting_the_same_file_changes_nothing(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        [
            "referencia;valor;data_pagamento;id",
            "F-1;159,90;10/03/2025;",
            "F-2;50,00;11/03/2025;PIX-E2E-1",
            "F-0;50,00;12/03/2025;",
        ],
    )
    first = run_import(db, plain_settings, path)
    assert (first.created, first.unchanged, first.failed, len(first.warnings)) == (2, 1, 0, 2)
    before = [(p.id, p.external_id, p.amount_cents, as_utc(p.paid_at)) for p in payments(db)]
    paid_at = invoice(db, "F-1").updated_at

    again = run_import(db, plain_settings, path, creditor=CNPJ_SHOWN)  # same ids with or without --creditor
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 3, 0)
    assert again.warnings == [] and again.ok
    assert [(p.id, p.external_id, p.amount_cents, as_utc(p.paid_at)) for p in payments(db)] == before
    assert invoice(db, "F-1").updated_at == paid_at
    assert invoice(db, "F-2").status == InvoiceStatus.OPEN

    # A file id reused for another payment is an error, not a silent "duplicate".
    reused = write(
        tmp_path, ["referencia;valor;data_pagamento;id", "F-2;150,00;12/03/2025;PIX-E2E-1"], name="b.csv"
    )
    report = run_import(db, plain_settings, reused)
    assert errors_of(report) == {
        2: (
            "o identificador 'PIX-E2E-1' já foi usado em outro pagamento (referência 'F-2', R$ 50,00); "
            "cada pagamento precisa de um identificador próprio"
        )
    }
    assert len(payments(db)) == 3


def test_instalment_references_pay_instalments_and_complete_the_agreement(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    agreement_id = make_agreement(db, people)
    path = write(
        tmp_path,
        [
            "referencia;valor;data_pagamento",
            f"a{agreement_id}p1;80,00;10/03/2025",  # lower case is accepted
            f"A{agreement_id}P9;10,00;10/03/2025",
        ],
    )
    report = run_import(db, plain_settings, path)
    assert report.created == 1
    assert errors_of(report) == {
        3: (
            f"parcela 'A{agreement_id}P9' não encontrada do credor {CNPJ_SHOWN} (confira o número do acordo "
            "e da parcela: A<acordo>P<parcela>)"
        )
    }
    assert payments(db)[0].details["reference"] == f"A{agreement_id}P1"

    second = write(
        tmp_path,
        [
            "referencia;valor;data_pagamento",
            f"A{agreement_id}P2;50,00;11/03/2025",
            f"A{agreement_id}P2;29,90;12/03/2025",
        ],
        name="b.csv",
    )
    partial = run_import(db, plain_settings, second)
    assert partial.created == 2 and partial.ok
    assert warnings_of(partial)[3] == (
        f"pagamento parcial: R$ 29,90 de R$ 79,90; o pagamento foi registrado e a parcela 2 do acordo "
        f"{agreement_id} continua em aberto (somados, os pagamentos registrados chegam a R$ 79,90: confira e "
        "dê baixa manualmente)"
    )
    full = write(
        tmp_path, ["referencia;valor;data_pagamento", f"A{agreement_id}P2;79,90;13/03/2025"], name="c.csv"
    )
    assert run_import(db, plain_settings, full).created == 1
    with db.session() as s:
        agreement = s.get_one(Agreement, agreement_id)
        assert [i.status for i in agreement.instalments] == [InstalmentStatus.PAID, InstalmentStatus.PAID]
        assert agreement.status == AgreementStatus.COMPLETED
        assert agreement.invoices[0].status == InvoiceStatus.PAID


def test_creditor_resolution_with_several_creditors(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    upsert_creditor(db, cnpj=CNPJ_OUTRA, legal_name="Outra Loja Ltda", contact_channel="SAC 0800 111 1111")
    with db.session() as s:
        s.add(  # the other creditor uses the reference F-2 too
            Invoice(
                creditor_id=_creditor_id(s, CNPJ_OUTRA),
                debtor_id=people.debtor_id,
                external_ref="F-2",
                amount_cents=30000,
                due_date=TODAY,
            )
        )
    lines = ["referencia;valor;data_pagamento", "F-2;300,00;10/03/2025", "F-1;159,90;10/03/2025"]
    report = run_import(db, plain_settings, write(tmp_path, lines))
    assert errors_of(report) == {
        2: (
            "a referência 'F-2' existe em mais de um credor; informe o credor na coluna cnpj_credor ou "
            "com --creditor"
        )
    }
    assert report.created == 1  # F-1 exists at one creditor only

    report = run_import(db, plain_settings, write(tmp_path, lines[:2], name="b.csv"), creditor=CNPJ_OUTRA)
    assert report.created == 1 and report.ok
    with db.session() as s:
        paid = s.scalars(select(Invoice).where(Invoice.external_ref == "F-2", Invoice.status == "paid")).one()
        assert paid.creditor_id == _creditor_id(s, CNPJ_OUTRA)

    with pytest.raises(ImportFileError, match=r"credor com CNPJ 26\.739\.481/0001-45 não cadastrado"):
        run_import(db, plain_settings, write(tmp_path, lines), creditor="26.739.481/0001-45")


def _creditor_id(session: Session, cnpj: str) -> int:
    return session.scalars(select(Creditor.id).where(Creditor.cnpj == normalize_cnpj(cnpj))).one()


def test_file_errors_write_nothing(db: Database, plain_settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, ["referencia;valor;data_pagamento", "F-1;159,90;10/03/2025"])
    with pytest.raises(ImportFileError, match="nenhum credor cadastrado"):
        run_import(db, plain_settings, path)
    missing = write(tmp_path, ["referencia;valor", "F-1;159,90"], name="b.csv")
    with pytest.raises(ImportFileError, match="falta a coluna obrigatória data_pagamento"):
        run_import(db, plain_settings, missing)
    assert payments(db) == []


def test_a_paid_invoice_queues_a_thank_you_without_needing_redis(
    db: Database, people: People, plain_settings: Settings, tmp_path: Path
) -> None:
    with db.session() as s:
        conversation = Conversation(debtor_id=people.debtor_id, channel=Channel.SMS, address=PHONE)
        s.add(conversation)
        s.flush()
        conversation_id = conversation.id
    path = write(
        tmp_path, ["referencia;valor;data_pagamento", "F-1;159,90;10/03/2025", "F-2;10,00;10/03/2025"]
    )
    report = run_import(db, plain_settings, path)
    assert report.thanked_conversations == [conversation_id]  # only the invoice paid in full
    with db.session() as s:
        sent = s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
        assert sent.status == MessageStatus.PENDING
        assert sent.body == (
            "Recebemos o pagamento de R$ 159,90 referente a mensalidade de outubro (Loja Exemplo Ltda). "
            "Obrigado!"
        )


# ------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli_env(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Environment for the CLI: the (emptied) test database, a private var dir, no Redis."""
    var_dir = tmp_path / "var"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REGUA_VAR_DIR", str(var_dir))
    monkeypatch.setenv("REGUA_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield var_dir
    get_settings.cache_clear()


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def load_examples() -> None:
    added = cli(
        "creditor", "add", "--cnpj", CNPJ_SHOWN, "--name", "Loja Exemplo Ltda", "--contact", "SAC 0800"
    )
    assert added.exit_code == 0, added.output
    for kind in ("debtors", "invoices"):
        result = cli("import", kind, str(EXAMPLES / f"{kind}.csv"))
        assert result.exit_code == 0, result.output


def test_cli_imports_the_example_file_then_reimport_changes_nothing(cli_env: Path, db: Database) -> None:
    load_examples()
    result = cli("import", "payments", str(EXAMPLES / "payments.csv"))
    assert result.exit_code == 0, result.output
    assert "Avisos (2):" in result.output
    assert "linha 5: pagamento parcial: R$ 500,00 de R$ 1.049,00" in result.output
    assert "linha 6: A fatura FAT-2025-0003 já constava como paga" in result.output
    summary = result.output.rstrip().splitlines()[-1]
    assert summary.startswith(
        "Pagamentos (payments.csv): 4 criados, 0 atualizados, 1 sem alteração, 0 com erro — 5 linhas, UTF-8"
    )
    statuses = {ref: invoice(db, ref).status for ref in ("FAT-2025-0001", "FAT-2025-0002", "FAT-2025-0007")}
    assert statuses == {
        "FAT-2025-0001": InvoiceStatus.PAID,
        "FAT-2025-0002": InvoiceStatus.PAID,
        "FAT-2025-0007": InvoiceStatus.OPEN,
    }
    assert as_utc(invoice(db, "FAT-2025-0002").paid_at) == datetime(2025, 8, 14, 19, 42, tzinfo=UTC)

    again = cli("import", "payments", str(EXAMPLES / "payments.csv"), "--creditor", CNPJ_SHOWN)
    assert again.exit_code == 0, again.output
    assert "0 criados, 0 atualizados, 5 sem alteração, 0 com erro" in again.output
    assert "Avisos" not in again.output
    assert len(payments(db)) == 5


def test_cli_bad_rows_exit_1_and_file_errors_exit_2(cli_env: Path, db: Database, tmp_path: Path) -> None:
    load_examples()
    path = write(
        tmp_path,
        ["referencia;valor;data_pagamento", "FAT-2025-0001;1.234,56;10/01/2025", "FAT-9999;10,00;10/01/2025"],
    )
    errors_file = tmp_path / "erros.csv"
    result = cli("import", "payments", str(path), "--errors-file", str(errors_file))
    assert result.exit_code == 1
    assert (
        f"linha 3: nenhuma fatura do credor {CNPJ_SHOWN} com a referência 'FAT-9999' "
        "(importe as faturas antes)" in result.output
    )
    assert (
        "Pagamentos (pagamentos.csv): 1 criado, 0 atualizados, 0 sem alteração, 1 com erro" in result.output
    )
    lines = errors_file.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "linha;tipo;motivo" and lines[1].startswith("3;erro;nenhuma fatura")

    unknown = cli("import", "payments", str(path), "--creditor", CNPJ_OUTRA)
    assert unknown.exit_code == 2
    assert f"Erro: credor com CNPJ {CNPJ_OUTRA} não cadastrado" in unknown.output
    assert cli("import", "payments", str(tmp_path / "nao-existe.csv")).exit_code == 2


def test_cli_enqueues_the_thank_you_delivery_when_redis_is_reachable(
    cli_env: Path,
    db: Database,
    people: People,
    tmp_path: Path,
    redis_url: str,
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with db.session() as s:
        conversation = Conversation(debtor_id=people.debtor_id, channel=Channel.SMS, address=PHONE)
        s.add(conversation)
        s.flush()
        conversation_id = conversation.id
    path = write(tmp_path, ["referencia;valor;data_pagamento", "F-1;159,90;10/03/2025"])

    # Without Redis the message waits in the database (the worker's sweep sends it).
    offline = cli("import", "payments", str(path))
    assert offline.exit_code == 0, offline.output
    assert "1 mensagem de agradecimento aguardando envio" in offline.output

    second = write(tmp_path, ["referencia;valor;data_pagamento", "F-2;200,00;10/03/2025"], name="b.csv")
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    online = cli("import", "payments", str(second))
    assert online.exit_code == 0, online.output
    assert "1 mensagem de agradecimento na fila de envio." in online.output
    jobs = Queue("default", connection=redis_conn).jobs
    assert [(job.func_name, job.args) for job in jobs] == [
        ("bot.conversation.jobs.deliver_conversation", (conversation_id,))
    ]
