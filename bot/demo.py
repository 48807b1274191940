"""A realistic, fictional demo data set, loaded through the real CSV import path.

`load_demo` registers a fictional retailer (Magazine Horizonte), writes `debtors.csv` and `invoices.csv`
the way a Brazilian creditor's spreadsheet would (UTF-8 with BOM, `;`, "1.234,56", dd/mm/aaaa, phones and
CPFs in mixed formats, some mobiles still without the 9th digit) and imports them with `bot.imports`.

Everything is deterministic for a given seed and reference date: names and CPFs come from Faker pt_BR
seeded with the seed, the rest from `random.Random(seed)`, and dates are relative to `today`.

The data is fictional, but a random mobile number may belong to a real person and a random CPF may be a
real one. Demo debtors carry the `DEMO_NOTE` in their notes and belong to `DEMO_CREDITOR_CNPJ`: never run
a campaign on them with real Twilio credentials.
"""

from __future__ import annotations

import csv
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from faker import Faker
from sqlalchemy import delete, exists, select

from bot.db import Database
from bot.imports import ImportReport, import_debtors, import_invoices, upsert_creditor
from bot.imports.fields import BRAZIL_TZ
from bot.money import format_brl
from bot.payments import boleto, pix
from bot.phones import InvalidPhone, is_mobile, normalize_phone

__all__ = [
    "DEMO_CREDITOR",
    "DEMO_CREDITOR_CNPJ",
    "DEMO_NOTE",
    "DemoSummary",
    "load_demo",
    "write_demo_files",
]

DEMO_CREDITOR_CNPJ = "41820537000185"
DEMO_CREDITOR = {
    "cnpj": DEMO_CREDITOR_CNPJ,
    "legal_name": "Magazine Horizonte Comércio Varejista Ltda.",
    "trade_name": "Magazine Horizonte",
    "contact_channel": "SAC 0800 591 2030, de segunda a sábado, das 8h às 20h",
}
DEMO_NOTE = "Dados fictícios de demonstração (regua demo)"

# (DDD, weight): every Brazilian time zone but Noronha's, and the big markets weighted up.
_DDDS = [
    (11, 14), (12, 2), (19, 3),  # SP
    (21, 8), (24, 1),  # RJ
    (31, 5), (34, 2),  # MG
    (41, 3), (48, 2), (51, 3), (54, 1),  # PR, SC, RS
    (61, 3), (62, 2),  # DF, GO
    (71, 4), (75, 1), (79, 1), (81, 4), (83, 1), (85, 3), (98, 2),  # BA, SE, PE, PB, CE, MA
    (91, 2), (93, 1),  # PA (93: America/Santarem)
    (92, 2), (95, 1), (69, 1), (65, 2), (67, 1),  # AM, RR, RO, MT, MS (UTC-4)
    (68, 1),  # AC (UTC-5)
]  # fmt: skip

_PRODUCTS = [
    ("Smart TV 50 polegadas", 279_900, 10),
    ("Geladeira frost free 410 L", 389_900, 12),
    ("Máquina de lavar 12 kg", 249_900, 10),
    ("Notebook 15,6 polegadas", 349_900, 10),
    ("Celular 128 GB", 179_900, 10),
    ("Fogão 5 bocas", 139_900, 8),
    ("Sofá retrátil 3 lugares", 219_900, 10),
    ("Colchão casal", 159_900, 6),
    ("Micro-ondas 30 L", 69_900, 5),
    ("Ar-condicionado split 12.000 BTUs", 259_900, 10),
    ("Guarda-roupa 6 portas", 119_900, 6),
    ("Bicicleta aro 29", 149_900, 6),
]
_MONTHS = ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"]
_BANK = "001"
# The demo creditor's payment settings and agreement policy (what `regua creditor payments|policy` set).
DEMO_PAYMENTS = {
    "pix_key": "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
    "city": "SAO PAULO",
    "boleto_bank_code": _BANK,
    "boleto_agreement": "1234567",
}
DEMO_POLICY = {
    "max_instalments": 10,
    "min_instalment_cents": 3000,
    "monthly_interest_bps": 199,
    "cash_discount_bps": 1500,
    "min_down_payment_bps": 0,
}
_PAY_BASE_URL = "https://pagamento.example.com/horizonte/"  # RFC 2606 domain: never a real site


# ------------------------------------------------------------------------------------------ data set


def _mobile(rng: random.Random) -> tuple[str, str]:
    """(E.164, DDD) of a plausible mobile number in a weighted DDD."""
    ddds, weights = zip(*_DDDS, strict=True)
    while True:
        ddd = rng.choices(ddds, weights)[0]
        number = f"+55{ddd}9{rng.randint(6, 9)}{rng.randint(0, 9_999_999):07d}"
        try:
            if is_mobile(normalize_phone(number)):
                return number, str(ddd)
        except InvalidPhone:
            continue


def _phone_as_typed(rng: random.Random, e164: str) -> str:
    """The number written as spreadsheets have it; some without the 9th digit (pre-2016 records)."""
    ddd, local = e164[3:5], e164[5:]
    style = rng.random()
    if style < 0.08:  # old 8-digit form: the importer adds the 9
        return f"({ddd}) {local[1:5]}-{local[5:]}"
    if style < 0.45:
        return f"({ddd}) {local[:5]}-{local[5:]}"
    if style < 0.75:
        return f"{ddd}{local}"
    return f"+55 {ddd} {local[:5]}-{local[5:]}"


def _consent_cell(rng: random.Random, today: date, probability: float) -> str:
    draw = rng.random()
    if draw < probability * 0.85:
        return (today - timedelta(days=rng.randint(30, 900))).strftime("%d/%m/%Y")
    if draw < probability:
        return "sim"
    return "não"


def _amount_text(cents: int) -> str:
    return format_brl(cents).removeprefix("R$ ")


def write_demo_files(
    directory: Path, *, debtors: int = 300, seed: int = 42, today: date | None = None
) -> tuple[Path, Path]:
    """Write the demo `debtors.csv` and `invoices.csv` into `directory`; returns their paths.

    Byte-for-byte the same for the same `debtors`, `seed` and `today` (and Faker version).
    """
    today = today or datetime.now(BRAZIL_TZ).date()
    rng = random.Random(seed)
    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    directory.mkdir(parents=True, exist_ok=True)
    debtors_path, invoices_path = directory / "debtors.csv", directory / "invoices.csv"

    debtor_rows: list[list[str]] = []
    invoice_rows: list[list[str]] = []
    sequence = 0
    for _ in range(debtors):
        first = fake.first_name()
        last = fake.last_name() if rng.random() < 0.6 else f"{fake.last_name()} {fake.last_name()}"
        name = f"{first} {last}"
        cpf = fake.unique.cpf()
        cpf_cell = cpf if rng.random() < 0.7 else cpf.replace(".", "").replace("-", "")
        phone, _ = _mobile(rng)
        phone2 = _phone_as_typed(rng, _mobile(rng)[0]) if rng.random() < 0.15 else ""
        email = ""
        if rng.random() < 0.6:
            email = f"{fake.user_name()}{rng.randint(1, 99)}@example.com"
        debtor_rows.append(
            [
                name,
                cpf_cell,
                _phone_as_typed(rng, phone),
                phone2,
                email,
                _consent_cell(rng, today, 0.85),
                _consent_cell(rng, today, 0.5),
                DEMO_NOTE,
            ]
        )

        for _ in range(rng.choices([1, 2, 3], [60, 30, 10])[0]):
            sequence += 1
            ref = f"HZ-{today.year % 100:02d}{sequence:06d}"
            due = today + timedelta(days=rng.randint(-150, 40))
            if rng.random() < 0.6:
                product, price, installments = rng.choice(_PRODUCTS)
                number = rng.randint(1, installments)
                amount = price // installments + rng.choice([0, 0, 0, 1])
                description = f"Parcela {number}/{installments} - {product}"
            else:
                amount = rng.randint(3_990, 350_000)
                description = f"Fatura do cartão Horizonte - {_MONTHS[due.month - 1]}/{due.year}"
            draw = rng.random()
            if (due < today and draw < 0.10) or (due >= today and draw < 0.03):
                status = "paga"
            elif draw > 0.97:
                status = "cancelada"
            else:
                status = "aberta"
            line = pix_code = link = ""
            if status == "aberta":
                free_field = f"{rng.randint(0, 10**25 - 1):025d}"
                line = boleto.format_linha(boleto.build(_BANK, amount, due, free_field))
                key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                pix_code = pix.build_brcode(
                    key, "MAGAZINE HORIZONTE", "SAO PAULO", amount_cents=amount, txid=ref.replace("-", "")
                )
                link = f"{_PAY_BASE_URL}{ref}"
            invoice_rows.append(
                [
                    ref,
                    cpf,
                    _amount_text(amount),
                    due.strftime("%d/%m/%Y"),
                    description,
                    status,
                    line,
                    pix_code,
                    link,
                ]
            )

    with debtors_path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            [
                "Nome",
                "CPF",
                "Telefone",
                "Telefone 2",
                "E-mail",
                "Consentimento WhatsApp",
                "Consentimento SMS",
                "Observações",
            ]
        )
        writer.writerows(debtor_rows)
    with invoices_path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            [
                "Referência",
                "CPF",
                "Valor",
                "Vencimento",
                "Descrição",
                "Status",
                "Linha digitável",
                "Pix copia e cola",
                "Link pagamento",
            ]
        )
        writer.writerows(invoice_rows)
    return debtors_path, invoices_path


# ---------------------------------------------------------------------------------------------- load


@dataclass
class DemoSummary:
    """What `load_demo` did. `str()` is a Portuguese summary for the operator."""

    loaded: bool
    creditor_name: str
    creditor_cnpj: str
    debtors: ImportReport | None = None
    invoices: ImportReport | None = None
    directory: Path | None = None
    removed: bool = False

    def __str__(self) -> str:
        from bot.documents import format_cnpj

        creditor = f"{self.creditor_name} (CNPJ {format_cnpj(self.creditor_cnpj)})"
        if not self.loaded:
            return (
                f"Os dados de demonstração já estão carregados (credor {creditor}); nada foi alterado. "
                "Use 'regua demo --reset' para recriá-los."
            )
        lines = [f"Dados de demonstração {'recriados' if self.removed else 'carregados'}: credor {creditor}."]
        if self.debtors is not None:
            lines.append(f"  {self.debtors}")
        if self.invoices is not None:
            lines.append(f"  {self.invoices}")
        if self.directory is not None:
            lines.append(f"  Arquivos CSV em {self.directory}")
        return "\n".join(lines)


def demo_loaded(db: Database) -> bool:
    """True when the demo creditor exists."""
    from bot.models import Creditor

    with db.session() as session:
        return session.scalar(select(exists().where(Creditor.cnpj == DEMO_CREDITOR_CNPJ))) or False


def remove_demo(db: Database) -> bool:
    """Delete the demo creditor, its invoices, and the demo debtors with their conversations and opt-out
    history (debtors that also owe another creditor are kept). Returns False if there was no demo."""
    from bot.models import (
        Agreement,
        AgreementOffer,
        AgreementPolicy,
        Case,
        Conversation,
        Creditor,
        Debtor,
        Invoice,
        OptOutEvent,
        Payment,
        agreement_invoices,
    )

    with db.session() as session:
        creditor_id = session.scalar(select(Creditor.id).where(Creditor.cnpj == DEMO_CREDITOR_CNPJ))
        if creditor_id is None:
            return False
        # What payments and agreements hang on the demo invoices goes first (foreign keys restrict).
        demo_invoices = select(Invoice.id).where(Invoice.creditor_id == creditor_id)
        session.execute(delete(Payment).where(Payment.creditor_id == creditor_id))
        session.execute(delete(Case).where(Case.invoice_id.in_(demo_invoices)))
        session.execute(delete(AgreementOffer).where(AgreementOffer.creditor_id == creditor_id))
        session.execute(delete(agreement_invoices).where(agreement_invoices.c.invoice_id.in_(demo_invoices)))
        session.execute(delete(Agreement).where(Agreement.creditor_id == creditor_id))
        session.execute(delete(AgreementPolicy).where(AgreementPolicy.creditor_id == creditor_id))
        session.execute(delete(Invoice).where(Invoice.creditor_id == creditor_id))
        owes_others = exists().where(Invoice.debtor_id == Debtor.id)
        demo_debtors = select(Debtor.id).where(Debtor.notes == DEMO_NOTE, ~owes_others)
        session.execute(delete(OptOutEvent).where(OptOutEvent.debtor_id.in_(demo_debtors)))
        session.execute(delete(Conversation).where(Conversation.debtor_id.in_(demo_debtors)))
        session.execute(
            delete(Debtor)
            .where(Debtor.notes == DEMO_NOTE, ~owes_others)
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(Creditor).where(Creditor.id == creditor_id))
    return True


def _configure_demo_creditor(db: Database) -> None:
    from bot.payments.setup import configure_payments, configure_policy, find_creditor

    with db.session() as session:
        creditor = find_creditor(session, DEMO_CREDITOR_CNPJ)
        configure_payments(session, creditor, actor="demo", **DEMO_PAYMENTS)
        configure_policy(session, creditor, actor="demo", **DEMO_POLICY)


def load_demo(
    db: Database,
    *,
    debtors: int = 300,
    seed: int = 42,
    today: date | None = None,
    directory: Path | None = None,
    reset: bool = False,
    progress: bool = False,
) -> DemoSummary:
    """Load the demo data set unless it is already loaded (then nothing changes) or `reset` is set (then
    the previous demo is removed first). Files go to `directory` (default: `<var dir>/demo/`)."""
    if debtors < 1:
        raise ValueError("debtors must be at least 1")
    name = str(DEMO_CREDITOR["trade_name"])
    removed = False
    if demo_loaded(db):
        if not reset:
            return DemoSummary(loaded=False, creditor_name=name, creditor_cnpj=DEMO_CREDITOR_CNPJ)
        removed = remove_demo(db)
    if directory is None:
        from bot.config import get_settings

        directory = get_settings().var_dir / "demo"
    debtors_path, invoices_path = write_demo_files(directory, debtors=debtors, seed=seed, today=today)
    upsert_creditor(db, actor="demo", **DEMO_CREDITOR)
    _configure_demo_creditor(db)
    debtor_report = import_debtors(db, debtors_path, progress=progress, actor="demo")
    invoice_report = import_invoices(
        db, invoices_path, creditor_cnpj=DEMO_CREDITOR_CNPJ, progress=progress, actor="demo"
    )
    return DemoSummary(
        loaded=True,
        creditor_name=name,
        creditor_cnpj=DEMO_CREDITOR_CNPJ,
        debtors=debtor_report,
        invoices=invoice_report,
        directory=directory,
        removed=removed,
    )
