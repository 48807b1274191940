"""The NLU model pages in a real browser, against the whole stack: the candidates page (the list, a
candidate's evaluation with the quality gate's reasons, a supervisor's override), and the serving page (a
promote asked for in the console and run by the `nlu` worker, its progress polled by nlu-swap.js, the
history, and a rollback from it).

Cheap models, never a training: the candidates are copies of the stack's model under other names (their
evaluations written into `nlu_models` by tests/candidate_rows.py), and the green slot starts with the one
that is promoted, so the swap only checks, warms and switches (the load itself is test_nlu_loop.py's).

Screenshots of the inbox, the candidates, an evaluation and the serving page are written to
docs/screenshots/ only with REGUA_UPDATE_SCREENSHOTS=1 (tests/integration/browser.py)."""

from __future__ import annotations

import random
import shutil
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.models import UserRole
from bot.nlu_ops import review
from bot.nlu_serving import state
from bot.people import accounts
from tests.candidate_rows import ready_candidate
from tests.integration.browser import SCREENSHOTS, keep_screenshot, logged_in
from tests.integration.conftest import Stack, green_slot, new_debtor, say

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"
SWAP_TIMEOUT_MS = 120_000  # the worker takes the job, checks the green slot, warms it and switches


@dataclass
class Models:
    """The stack's model, a candidate the gate passes (green runs it) and one it refuses; their ids."""

    current: Path
    promoted: Path
    passed_id: int
    refused_id: int
    refused_name: str


@pytest.fixture(scope="module")
def models(stack: Stack, rasa_model: Path) -> Iterator[Models]:
    """The candidates, the green slot running the one to promote, and the `nlu` worker (the Procfile's
    `trainer`), which the promote test starts itself."""
    suffix = uuid.uuid4().hex[:8]
    directory = stack.settings.candidates_dir
    directory.mkdir(parents=True, exist_ok=True)
    promoted = directory / f"regua-console-{suffix}.tar.gz"
    shutil.copyfile(rasa_model, promoted)
    refused = f"regua-console-refused-{suffix}.tar.gz"
    passed_id = ready_candidate(stack.database, promoted.name, rasa_model.name)
    refused_id = ready_candidate(stack.database, refused, rasa_model.name, breaks="parar")
    stack.commands["trainer"] = [*stack.commands["worker"], "--queue", "nlu"]
    with green_slot(stack, rasa_model, promoted):
        yield Models(rasa_model, promoted, passed_id, refused_id, refused)
        if "trainer" in stack.running:
            stack.stop("trainer")


def _person(stack: Stack, role: UserRole, name: str) -> str:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@regua.example"
    with stack.database.session() as s:
        accounts.add(s, email=email, name=name, role=role, password=PASSWORD, by="test")
    return email


def _flagged(stack: Stack, email: str, texts: list[str]) -> None:
    """A debtor writes `texts` through the signed webhook (the real Rasa reads them) and the person
    `email` flags each one "o robô não entendeu", so the inbox has something to show."""
    _, phone = new_debtor(stack.database)
    message_ids = [say(stack, phone, text).message_id for text in texts]
    with stack.database.session() as s:
        person = accounts.active_user(s, email)
        for message_id in message_ids:
            review.flag(s, message_id, person)


def _screenshot(page: Page, tmp_path: Path, name: str) -> None:
    taken = tmp_path / name
    page.screenshot(path=str(taken), full_page=True)
    keep_screenshot(taken, SCREENSHOTS / name)


def test_ops_read_the_candidates_and_a_refused_evaluation_and_a_supervisor_lets_it_through(
    stack: Stack, browser: Browser, models: Models, tmp_path: Path
) -> None:
    supervisor_email = _person(stack, UserRole.SUPERVISOR, "Sara")
    word = "".join(random.choices(string.ascii_lowercase, k=6))  # this run's own inbox groups
    texts = [f"me diz o total {word} com juros, cpf 123.456.789-09", f"e o boleto {word}?"]
    _flagged(stack, supervisor_email, texts)
    ops = logged_in(browser, stack.web_url, _person(stack, UserRole.OPS, "Otto Lima"), PASSWORD)
    ops.get_by_test_id("nav-nlu").click()
    expect(ops).to_have_url(f"{stack.web_url}/console/nlu/")
    expect(ops.locator("body")).to_contain_text(f"me diz o total {word} com juros, cpf <cpf>")
    _screenshot(ops, tmp_path, "nlu-inbox.png")

    ops.goto(f"{stack.web_url}/console/nlu/modelos/?modelo={models.passed_id}")
    listing = ops.get_by_test_id("candidates")
    expect(listing).to_contain_text(models.promoted.name)
    expect(listing).to_contain_text(models.refused_name)
    expect(ops.get_by_test_id("gate-verdict")).to_have_text("aprovado")
    expect(ops.get_by_test_id("promote")).to_be_visible()
    _screenshot(ops, tmp_path, "nlu-candidates.png")

    ops.get_by_role("link", name=models.refused_name).click()
    expect(ops.get_by_test_id("gate-verdict")).to_have_text("recusado")
    expect(ops.get_by_test_id("gate-reasons")).to_contain_text("A intenção crítica parar perdeu recall")
    expect(ops.get_by_test_id("metrics")).to_contain_text("parar")
    expect(ops.get_by_test_id("override-form")).to_have_count(0)  # ops may not override
    expect(ops.get_by_test_id("promote")).to_have_count(0)  # nor promote what the gate refused
    _screenshot(ops, tmp_path, "nlu-candidate-evaluation.png")

    supervisor = logged_in(browser, stack.web_url, supervisor_email, PASSWORD)
    supervisor.goto(f"{stack.web_url}/console/nlu/modelos/?modelo={models.refused_id}")
    form = supervisor.get_by_test_id("override-form")
    form.get_by_label("Liberar mesmo assim (supervisão): motivo").fill("Recall de parar revisado à mão.")
    form.get_by_role("button", name="Liberar candidato").click()
    expect(supervisor.locator("body")).to_contain_text("o motivo ficou registrado na auditoria")
    expect(supervisor.get_by_test_id("gate-verdict")).to_have_text("liberado por supervisão")
    expect(supervisor.get_by_test_id("promote")).to_be_visible()


def test_ops_promote_a_candidate_watch_the_swap_and_roll_back_from_the_history(
    stack: Stack, browser: Browser, models: Models, tmp_path: Path
) -> None:
    page = logged_in(browser, stack.web_url, _person(stack, UserRole.OPS, "Olga Reis"), PASSWORD)
    page.goto(f"{stack.web_url}/console/nlu/modelos/?modelo={models.passed_id}")
    expect(page.get_by_test_id("gate-verdict")).to_have_text("aprovado")
    page.get_by_test_id("promote").dblclick()  # a double click is one swap

    expect(page).to_have_url(f"{stack.web_url}/console/nlu/servindo/")
    progress = page.get_by_test_id("swap-progress")
    expect(progress).to_contain_text(models.promoted.name)
    expect(progress).to_contain_text("Olga Reis")
    expect(page.get_by_test_id("swap-stage")).to_contain_text("Na fila do worker de NLU")  # no worker yet
    expect(page.get_by_test_id("nlu-active-model")).to_have_text(models.current.name)
    _screenshot(page, tmp_path, "nlu-serving-progress.png")

    stack.start("trainer")  # the Procfile's `regua worker --queue nlu`
    # The page polls the swap and reloads itself when it is over: no click, no reload by the test.
    active = page.get_by_test_id("nlu-active-model")
    expect(active).to_have_text(models.promoted.name, timeout=SWAP_TIMEOUT_MS)
    expect(page.get_by_test_id("swap-progress")).to_have_count(0)
    first_row = page.get_by_test_id("nlu-history").locator("tbody tr").first
    expect(first_row).to_contain_text("Promoção")
    expect(first_row).to_contain_text("Olga Reis")
    _screenshot(page, tmp_path, "nlu-serving.png")

    # Blue still runs the model that answered before: going back is instant, inside the request.
    history = page.get_by_test_id("nlu-history")
    history.get_by_role("button", name=f"Voltar para {models.current.name}").first.click()
    expect(page.locator("body")).to_contain_text(f"{models.current.name} voltou a responder aos devedores")
    expect(page.get_by_test_id("nlu-active-model")).to_have_text(models.current.name)
    with stack.database.session() as session:
        latest = state.history(session, 2)
        assert [(d.action.value, Path(d.model_file).name) for d in latest] == [
            ("rollback", models.current.name),
            ("promote", models.promoted.name),
        ]
        assert latest[0].actor == latest[1].actor and latest[0].actor.startswith("agent:")
