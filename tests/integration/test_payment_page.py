"""The payment page (`/p/<token>`) in a real headless browser at phone size.

The real Flask app is served on a free local port over the test database; Playwright drives Debian's
Chromium (`/usr/bin/chromium`, installed by scripts/system-deps.sh when the build runs as root; never
`playwright install`, which downloads a browser of its own) at a 390×844 phone viewport. The test checks
what a debtor sees and does: the creditor, the itemised amount, the QR code and barcode images loaded and
fitting the screen, and both copy buttons putting exactly the right text on the clipboard (and reporting
the copy to the server, for the collection metrics).

Screenshot: a full-page picture of the page is kept in the repository at docs/payment-page.png (shown in
the README). A normal run does not touch it, so the working tree stays clean; to re-take it after changing
the page, run this test with REGUA_UPDATE_SCREENSHOTS=1:

    REGUA_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/integration/test_payment_page.py

Without /usr/bin/chromium the test is skipped when not running as root (the build could not install the
browser; scripts/system-deps.sh names the package); as root a missing browser is a failure.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from faker import Faker
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select
from werkzeug.serving import make_server

from bot import localtime
from bot.config import PROJECT_ROOT, Settings, override
from bot.db import Database
from bot.documents import format_cnpj, normalize_cnpj, normalize_cpf
from bot.models import Creditor, Debtor, Invoice, PaymentLinkView, PaymentPageEvent, utcnow
from bot.money import format_brl
from bot.payments import boleto, links, pix
from bot.payments.amounts import updated_amount
from tests.integration.browser import keep_screenshot
from tests.integration.conftest import free_port, new_mobile
from webhooks import create_app

pytestmark = pytest.mark.integration

VIEWPORT = {"width": 390, "height": 844}
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36"
)
SCREENSHOT = PROJECT_ROOT / "docs" / "payment-page.png"
PIX_KEY = "cobranca@lojaexemplo.com.br"
TIMEOUT_MS = 15_000
_fake = Faker("pt_BR")
# True once the image selected by `sel` has loaded and decoded to a real picture.
LOADED_IMAGE = (
    "sel => { const img = document.querySelector(sel); return img.complete && img.naturalWidth > 0; }"
)


@pytest.fixture
def base_url(settings: Settings, migrated_database: Database) -> Iterator[tuple[str, Settings]]:
    """The real web app on a free local port over the test database; PUBLIC_BASE_URL is that address, so
    the signed image URLs on the page point back at it. (The tables are not emptied: the integration
    stack may be running on the same database, so this test makes its own creditor and debtor.)"""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served = override(settings, public_base_url=url)
    server = make_server("127.0.0.1", port, create_app(served), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, served
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def phone(browser: Browser, base_url: tuple[str, Settings]) -> Iterator[Page]:
    """A page in a fresh phone-sized browser context that may read and write the clipboard."""
    context: BrowserContext = browser.new_context(
        viewport=VIEWPORT,
        screen=VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="pt-BR",
        timezone_id="America/Sao_Paulo",
        user_agent=PHONE_USER_AGENT,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url[0])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@dataclass(frozen=True)
class Overdue:
    """The invoice behind the link, and what the page should show for it."""

    token: str
    link_id: int
    cnpj: str
    boleto_line: str
    original_cents: int
    due_date: date


def _overdue_invoice(db: Database, settings: Settings) -> Overdue:
    """A new creditor with a Pix key, a new debtor, and an invoice 12 days overdue with a valid bank
    boleto (the CNPJ, CPF and phone are new each time: other tests may share the database)."""
    due = localtime.local_date(utcnow(), "America/Sao_Paulo") - timedelta(days=12)
    original = 18990
    line = boleto.build("001", original, due, "0000001234567000000012317").linha_digitavel
    with db.session() as s:
        creditor = Creditor(
            legal_name="Loja Exemplo Comércio Ltda",
            trade_name="Loja Exemplo",
            cnpj=normalize_cnpj(_fake.cnpj()),
            contact_channel="SAC 0800 000 0000",
            pix_key=PIX_KEY,
            city="São Paulo",
        )
        debtor = Debtor(
            name="Maria da Silva",
            cpf=normalize_cpf(_fake.unique.cpf()),
            phone=new_mobile(),
            timezone="America/Sao_Paulo",
            state="SP",
        )
        invoice = Invoice(
            creditor=creditor,
            debtor=debtor,
            external_ref=f"F-{random.randint(1000, 9999)}",
            description="mensalidade de outubro",
            amount_cents=original,
            due_date=due,
            boleto_line=line,
        )
        s.add_all([creditor, debtor, invoice])
        s.flush()
        link = links.link_for(s, settings, invoice=invoice)
        return Overdue(link.token, link.id, creditor.cnpj, line, original, due)


def _copy(page: Page, button: str, status_id: str, done: str) -> str:
    """Tap a copy button, wait for its confirmation, and return what is on the clipboard."""
    page.get_by_role("button", name=button).tap()
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).textContent === text", arg=[status_id, done]
    )
    return page.evaluate("navigator.clipboard.readText()")


def test_the_payment_page_works_on_a_phone(
    phone: Page, base_url: tuple[str, Settings], migrated_database: Database, tmp_path: Path
) -> None:
    url, served = base_url
    db = migrated_database
    overdue = _overdue_invoice(db, served)

    response = phone.goto(f"{url}/p/{overdue.token}", wait_until="load")
    assert response is not None and response.status == 200
    today = localtime.local_date(utcnow(), "America/Sao_Paulo")
    expected = updated_amount(overdue.original_cents, overdue.due_date, today)
    assert expected.fine_cents > 0 and expected.interest_cents > 0

    # The creditor, named as the law requires, and the itemised amount.
    phone.wait_for_selector("[data-testid=total]")
    header = phone.locator("header").inner_text()
    assert "Loja Exemplo" in header and "Loja Exemplo Comércio Ltda" in header
    assert f"CNPJ {format_cnpj(overdue.cnpj)}" in header
    rows = dict(
        phone.eval_on_selector_all(
            "section[aria-labelledby=amount-title] tr",
            "rows => rows.map(r => [r.cells[0].innerText.trim(), r.cells[1].innerText.trim()])",
        )
    )
    assert rows["Valor original"] == format_brl(expected.original_cents)
    assert rows["Multa"] == format_brl(expected.fine_cents)
    interest = next(label for label in rows if label.startswith("Juros"))
    assert f"{expected.days_late} dias de atraso" in interest
    assert rows[interest] == format_brl(expected.interest_cents)
    assert rows["Total a pagar"] == format_brl(expected.total_cents)
    assert phone.get_by_test_id("total").inner_text() == format_brl(expected.total_cents)

    # Both images really loaded, and nothing is wider than the phone.
    for selector in ("img.qr", "img.barcode"):
        phone.wait_for_function(LOADED_IMAGE, arg=selector)
        box = phone.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"], selector
    assert phone.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert phone.evaluate("window.isSecureContext")

    # The picture in docs/, re-taken only on request (see the module docstring).
    shot = tmp_path / "payment-page.png"
    phone.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, SCREENSHOT)

    # "Copiar código Pix": exactly the BR Code, for the updated total, on the creditor's key.
    code = _copy(phone, "Copiar código Pix", "pix-code-status", "Código Pix copiado!")
    assert code == phone.locator("#pix-code").input_value()
    parsed = pix.parse_brcode(code)
    assert parsed["key"] == PIX_KEY
    assert parsed["amount_cents"] == expected.total_cents

    # "Copiar linha digitável": the 47 digits a bank app accepts, not the formatted line on screen.
    line = _copy(phone, "Copiar linha digitável", "boleto-line-status", "Linha digitável copiada!")
    assert line == overdue.boleto_line
    assert re.fullmatch(r"[0-9]{47}", line)
    assert phone.locator("#boleto-line").input_value() == boleto.format_linha(line)

    # Opening the page was recorded, with the phone's user agent.
    with db.session() as s:
        views = s.scalars(select(PaymentLinkView).where(PaymentLinkView.link_id == overdue.link_id)).all()
    assert [v.user_agent for v in views] == [PHONE_USER_AGENT]

    # Each copy was reported by the page's script (the collection metrics, docs/metrics.md).
    assert _copy_events(db, overdue.link_id) == ["pix_copied", "line_copied"]


def _copy_events(db: Database, link_id: int) -> list[str]:
    """The link's copy events, once both have arrived (the page reports them without waiting)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        with db.session() as s:
            kinds = [
                e.kind.value
                for e in s.scalars(
                    select(PaymentPageEvent)
                    .where(PaymentPageEvent.link_id == link_id)
                    .order_by(PaymentPageEvent.id)
                )
            ]
        if len(kinds) >= 2 or time.monotonic() > deadline:
            return kinds
        time.sleep(0.1)
