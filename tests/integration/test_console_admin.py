"""People management and cases in the console, in a real browser against the whole stack.

An admin adds an agent on `/console/pessoas` (a weak password first: a clear message), the agent logs
in, opens "Casos" from the navigation (with its count) and resolves a debtor's dispute resuming the
collection, audited under them. Screenshots of both pages are kept in docs/screenshots/; re-take them with
REGUA_UPDATE_SCREENSHOTS=1 (run this file alone, so the pages hold only its own rows):

    REGUA_UPDATE_SCREENSHOTS=1 env -u REDIS_URL .venv/bin/python -m pytest \
        tests/integration/test_console_admin.py
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.models import AuditLog, Case, CaseKind, CaseStatus, Invoice, UserRole
from bot.people import accounts
from tests.integration.browser import PHONE, new_page, screenshot
from tests.integration.conftest import Stack, new_debtor

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"
AGENT_PASSWORD = "girassol-amarelo-na-janela"


def _log_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()


def test_an_admin_adds_an_agent_who_logs_in_and_resolves_a_case(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    admin_email, agent_email = f"rita-{suffix}@regua.example", f"bia-{suffix}@regua.example"
    with stack.database.session() as s:
        accounts.add(
            s, email=admin_email, name="Rita Admin", role=UserRole.ADMIN, password=PASSWORD, by="test"
        )
    debtor_id, _ = new_debtor(stack.database)
    with stack.database.session() as s:
        invoice = s.scalars(select(Invoice).where(Invoice.debtor_id == debtor_id)).one()
        invoice.pause_reason = "dispute"
        case = Case(kind=CaseKind.DISPUTE, debtor_id=debtor_id, invoice_id=invoice.id, evidence=[])
        s.add(case)
        s.flush()
        case_id, invoice_id = case.id, invoice.id

    admin = new_page(browser)
    _log_in(admin, stack.web_url, admin_email, PASSWORD)
    admin.get_by_role("link", name="Pessoas").click()
    expect(admin.get_by_role("heading", name="Pessoas")).to_be_visible()
    form = admin.locator("section.card form")
    form.get_by_label("Nome").fill("Bia Lima")
    form.get_by_label("E-mail").fill(agent_email)
    form.get_by_label("Papel").select_option("agent")
    form.get_by_label("Senha inicial").fill("brasil123456")
    form.get_by_role("button", name="Cadastrar").click()
    expect(admin.locator(".flash-error")).to_be_visible()  # a well-known password, explained
    form = admin.locator("section.card form")
    form.get_by_label("Nome").fill("Bia Lima")
    form.get_by_label("E-mail").fill(agent_email)
    form.get_by_label("Senha inicial").fill(AGENT_PASSWORD)
    form.get_by_role("button", name="Cadastrar").click()
    expect(admin.locator(".flash")).to_contain_text("Bia Lima foi cadastrado(a)")
    expect(admin.locator(f"tr[data-person='{agent_email}']")).to_contain_text("Ativo")
    screenshot(admin, "people-laptop.png", tmp_path)

    # On a phone: one card per person, nothing wider than the screen.
    phone = new_page(browser, PHONE)
    _log_in(phone, stack.web_url, admin_email, PASSWORD)
    phone.goto(f"{stack.web_url}/console/pessoas/")
    expect(phone.locator(f"tr[data-person='{agent_email}']")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "people-phone.png", tmp_path)

    agent = new_page(browser)
    _log_in(agent, stack.web_url, agent_email, AGENT_PASSWORD)
    expect(agent.get_by_test_id("who")).to_contain_text("Bia Lima")
    expect(agent.get_by_role("link", name="Pessoas")).to_have_count(0)
    agent.get_by_test_id("nav-cases").click()
    row = agent.locator(f"tr[data-case='{case_id}']")
    expect(row).to_contain_text("Contestação")
    expect(row).to_contain_text("Loja Integração Ltda")
    expect(row).to_contain_text("R$ 259,90")
    screenshot(agent, "cases-laptop.png", tmp_path)
    phone.goto(f"{stack.web_url}/console/casos/")
    expect(phone.locator(f"tr[data-case='{case_id}']")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row.get_by_placeholder("O que foi decidido").fill("Contestação improcedente: nota fiscal conferida")
    row.get_by_label("Retomar a cobrança").check()
    row.get_by_role("button", name="Encerrar caso").click()
    expect(agent.locator(".flash")).to_contain_text(f"Caso {case_id} encerrado e cobrança retomada.")
    expect(agent.locator(f"tr[data-case='{case_id}']")).to_have_count(0)

    with stack.database.session() as s:
        agent_id = accounts.find(s, agent_email).id  # type: ignore[union-attr]
        assert s.get_one(Case, case_id).status == CaseStatus.RESOLVED
        assert s.get_one(Invoice, invoice_id).pause_reason is None
        actors = s.scalars(
            select(AuditLog.actor).where(
                AuditLog.action == "case.resolved", AuditLog.entity_id == str(case_id)
            )
        ).all()
    assert actors == [f"agent:{agent_id}"]
