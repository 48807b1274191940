"""The results dashboard in a real browser against the whole stack: a supervisor opens "Resultados" from
the navigation, filters a period and a creditor, reads the experiments section and downloads a table as
CSV. Screenshots are kept in docs/screenshots/; re-take them with REGUA_UPDATE_SCREENSHOTS=1:

    REGUA_UPDATE_SCREENSHOTS=1 env -u REDIS_URL .venv/bin/python -m pytest \
        tests/integration/test_results_browser.py
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from faker import Faker
from playwright.sync_api import Browser, expect

from bot.analytics.daily import refresh
from bot.db import Database
from bot.documents import normalize_cnpj, normalize_cpf
from bot.models import Conversation, Creditor, Debtor, Invoice, Message, OutboxEntry, Payment, UserRole
from bot.people import accounts
from tests.integration.browser import PHONE, logged_in, screenshot
from tests.integration.conftest import Stack, new_mobile

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"
FAKE = Faker("pt_BR")
DAY = date(2025, 7, 15)  # a day no other test sends reminders on
SENT = datetime(2025, 7, 15, 15, 0, tzinfo=UTC)


def _reminded_creditor(db: Database, name: str) -> int:
    """A creditor whose four debtors got the default cadence's experiment step (acompanhamento_d+1) on DAY
    in variants a and b; one of each paid R$ 120,00."""
    with db.session() as s:
        creditor = Creditor(legal_name=name, cnpj=normalize_cnpj(FAKE.cnpj()), contact_channel="SAC")
        s.add(creditor)
        s.flush()
        for n, variant in enumerate(("a", "a", "b", "b")):
            debtor = Debtor(name=FAKE.name(), cpf=normalize_cpf(FAKE.unique.cpf()), phone=new_mobile())
            s.add(debtor)
            s.flush()
            paid = n % 2 == 0
            invoice = Invoice(
                creditor_id=creditor.id,
                debtor_id=debtor.id,
                external_ref=f"RES-{uuid.uuid4().hex[:10]}",
                amount_cents=12000,
                due_date=date(2025, 7, 14),
                status="paid" if paid else "open",
                paid_at=SENT.replace(day=17) if paid else None,
            )
            conversation = Conversation(channel="whatsapp", address=debtor.phone, debtor_id=debtor.id)
            s.add_all([invoice, conversation])
            s.flush()
            message = Message(
                conversation_id=conversation.id,
                direction="outbound",
                channel="whatsapp",
                status="read",
                body="Lembrete",
                sent_at=SENT,
                delivered_at=SENT,
                read_at=SENT,
            )
            s.add(message)
            s.flush()
            s.add(
                OutboxEntry(
                    invoice_id=invoice.id,
                    debtor_id=debtor.id,
                    creditor_id=creditor.id,
                    cadence="padrao",
                    step_id="acompanhamento_d+1",
                    variant=variant,
                    send_on=DAY,
                    channel="whatsapp",
                    status="sent",
                    message_id=message.id,
                    sent_at=SENT,
                )
            )
            if paid:
                s.add(
                    Payment(
                        provider="pix",
                        external_id=f"res-{invoice.external_ref}",
                        creditor_id=creditor.id,
                        invoice_id=invoice.id,
                        amount_cents=12000,
                        paid_at=invoice.paid_at,
                    )
                )
        refresh(s, date(2025, 7, 1), date(2025, 7, 31))
        s.commit()
        return creditor.id


def test_a_supervisor_filters_a_creditor_reads_the_experiments_and_exports_csv(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    name = f"Loja Resultados {suffix} Ltda"
    _reminded_creditor(stack.database, name)
    email = f"sil-{suffix}@regua.example"
    with stack.database.session() as s:
        accounts.add(
            s, email=email, name="Silvia Prado", role=UserRole.SUPERVISOR, password=PASSWORD, by="test"
        )

    page = logged_in(browser, stack.web_url, email, PASSWORD)
    page.get_by_role("link", name="Resultados").click()
    expect(page.get_by_role("heading", name="Resultados da cobrança")).to_be_visible()
    expect(page.get_by_test_id("freshness")).to_contain_text("atualizados em")
    page.get_by_label("De", exact=True).fill("2025-07-01")
    page.get_by_label("Até", exact=True).fill("2025-07-31")
    page.get_by_test_id("creditor").select_option(label=name)
    page.get_by_role("button", name="Filtrar").click()
    expect(page.get_by_text(f"· {name}.")).to_be_visible()
    recovered = page.get_by_test_id("kpi").filter(has_text="Valor recuperado")
    expect(recovered).to_contain_text("R$ 240,00")
    expect(page.get_by_test_id("kpi").filter(has_text="Taxa de recuperação")).to_contain_text("50,0 %")

    experiments = page.get_by_test_id("experiments")
    experiments.scroll_into_view_if_needed()
    readout = experiments.get_by_test_id("readout-acompanhamento_d+1")
    expect(readout.get_by_test_id("verdict")).to_contain_text("ainda não há dados suficientes")
    arms = readout.locator("tbody tr")
    expect(arms).to_have_count(2)
    expect(arms.nth(0)).to_contain_text("a (controle)")
    expect(arms.nth(1)).to_contain_text("50,0 %")
    screenshot(page, "results-laptop.png", tmp_path)

    variants = page.get_by_test_id("table-experimentos")
    with page.expect_download() as download:
        variants.get_by_role("link", name="Baixar CSV").click()
    text = Path(download.value.path()).read_bytes().decode("utf-8")
    assert text.startswith("\ufeffPasso;Variante;Contatos;Recuperação;Valor recuperado\r\n")
    assert "acompanhamento_d+1;a;2;50,0 %;R$ 120,00\r\n" in text
    assert "acompanhamento_d+1;b;2;50,0 %;R$ 120,00\r\n" in text

    phone = logged_in(browser, stack.web_url, email, PASSWORD, viewport=PHONE)
    phone.goto(page.url)
    expect(phone.get_by_test_id("kpi").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(phone, "results-phone.png", tmp_path)
