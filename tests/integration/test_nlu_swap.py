"""Issue 17 §7 over the real stack: the faults of a model swap (Rasa asked to load a truncated file, a
promote of one, an idle slot that never answers) leave the model that answers debtors untouched. A promote
under a load of 10 msg/s and a rollback are in test_nlu_loop.py, with the candidate they put in front of
debtors."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import override
from bot.models import Processing, RasaSlot
from bot.nlu_serving import routing, swap
from bot.rasa.client import RasaUnavailable
from tests.integration.conftest import Stack, green_slot, new_debtor, say
from tests.integration.webhook_load import serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def green(stack: Stack, rasa_model: Path) -> Iterator[None]:
    """The second Rasa slot, started like the Procfile's `rasa-green` (the stack starts only blue)."""
    with green_slot(stack, rasa_model):
        yield


@pytest.fixture(scope="module")
def models(rasa_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Private copies of the current model under other names ("other", "truncated"): the tests never
    touch models/."""
    directory = tmp_path_factory.mktemp("models")
    other = directory / "regua-swaptest-other.tar.gz"
    shutil.copyfile(rasa_model, other)
    truncated = directory / "regua-swaptest-truncated.tar.gz"
    truncated.write_bytes(rasa_model.read_bytes()[: rasa_model.stat().st_size // 3])
    return {"current": rasa_model, "other": other, "truncated": truncated}


def test_rasa_asked_to_load_a_truncated_model_keeps_the_model_it_had(
    stack: Stack, green: None, models: dict[str, Path]
) -> None:
    idle = serving(stack).active_slot.other
    client = routing.slot_client(stack.settings, idle, timeout=30)
    had = client.status()["model_file"]
    with pytest.raises(RasaUnavailable):
        client.load_model(str(models["truncated"]), timeout=120)
    assert client.status()["model_file"] == had  # not replaced by an empty model (RasaHQ/rasa#6358)
    assert client.parse("quero pagar")["intent"]["name"]


def test_a_promote_of_a_truncated_model_is_abandoned_and_the_state_says_why(
    stack: Stack, models: dict[str, Path]
) -> None:
    serving_before = serving(stack)
    with pytest.raises(swap.SwapFailed, match="ilegível"):
        swap.promote(stack.settings, stack.database, models["truncated"], "cli:test")
    after = serving(stack)
    assert after.active_slot is serving_before.active_slot and after.swap_token is None
    assert "ilegível" in (after.last_error or "")


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_an_idle_slot_that_never_answers_abandons_the_swap_and_debtors_keep_their_model(
    stack: Stack, models: dict[str, Path], hung_port: int
) -> None:
    active = serving(stack).active_slot
    hung = f"http://127.0.0.1:{hung_port}"
    idle_url = {"rasa_green_url": hung} if active is RasaSlot.BLUE else {"rasa_url": hung}
    settings = override(stack.settings, **idle_url)
    started = time.monotonic()
    with pytest.raises(swap.SwapFailed, match="não carregou"):
        swap.promote(settings, stack.database, models["other"], "cli:test", load_timeout=5)
    assert time.monotonic() - started < 60
    after = serving(stack)
    assert after.active_slot is active and after.swap_token is None and after.last_error
    assert after.model_of(active.other) is None  # the state does not pretend to know what it runs now
    _, phone = new_debtor(stack.database)
    assert say(stack, phone, "quanto devo?").processing == Processing.DONE
