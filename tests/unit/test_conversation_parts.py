"""The small pieces of a conversation: keywords, opening hours, message splitting, Rasa's answers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot import optout
from bot.channels.splitting import split_text
from bot.hours import InvalidHours, describe_moment, parse_hours
from bot.models import OptOutAction
from bot.rasa.client import BotMessage

# ---- opt-out keywords -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["PARAR", "parar", "Parar.", "  pare!! ", "STOP", "sair", "Cancelar", "DESCADASTRAR", "pare 🙏"]
)
def test_opt_out_keywords(text: str) -> None:
    assert optout.keyword_action(text) == OptOutAction.OPT_OUT


@pytest.mark.parametrize("text", ["VOLTAR", "voltar!", "Start"])
def test_opt_in_keywords(text: str) -> None:
    assert optout.keyword_action(text) == OptOutAction.OPT_IN


@pytest.mark.parametrize(
    "text", ["nao quero mais receber isso", "para quando é o boleto?", "parar de pagar juros", "", "oi"]
)
def test_sentences_are_left_to_the_nlu(text: str) -> None:
    assert optout.keyword_action(text) is None


# ---- opening hours --------------------------------------------------------------------------------------

BRT = "America/Sao_Paulo"


def _at(text: str) -> datetime:
    """A UTC moment from a São Paulo wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(BRT)).astimezone(UTC)


def test_hours_parse_ranges_lists_and_accents() -> None:
    hours = parse_hours("Seg-Sex 08:00-18:00; sáb 09:00-13:00")
    assert sorted(hours.spans) == [0, 1, 2, 3, 4, 5]
    assert hours.is_open(_at("2026-11-24T10:00"))  # Tuesday
    assert not hours.is_open(_at("2026-11-24T18:00"))  # closing time is exclusive
    assert hours.is_open(_at("2026-11-28T12:59"))  # Saturday
    assert not hours.is_open(_at("2026-11-29T10:00"))  # Sunday


def test_next_opening_skips_nights_weekends_and_national_holidays() -> None:
    hours = parse_hours("seg-sex 08:00-18:00")
    friday_evening = _at("2026-11-27T19:00")
    assert hours.next_opening(friday_evening) == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Monday 08:00
    christmas_eve = _at("2026-12-24T19:00")
    assert hours.next_opening(christmas_eve) == datetime(2026, 12, 28, 11, 0, tzinfo=UTC)  # after Christmas
    open_now = _at("2026-11-24T10:00")
    assert hours.next_opening(open_now) == open_now
    assert parse_hours("").next_opening(open_now) is None


@pytest.mark.parametrize(
    "text", ["seg-sex", "seg-sex 18:00-08:00", "xyz 08:00-10:00", "sex-seg 08:00-10:00", "seg 25:00-26:00"]
)
def test_bad_hours_are_rejected_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidHours):
        parse_hours(text)


def test_describe_moment_in_portuguese() -> None:
    now = _at("2026-11-27T19:00")  # Friday
    assert describe_moment(_at("2026-11-27T20:00"), now, BRT) == "hoje às 20h"
    assert describe_moment(_at("2026-11-28T08:30"), now, BRT) == "amanhã às 8h30"
    assert describe_moment(_at("2026-11-30T08:00"), now, BRT) == "na segunda-feira às 8h"
    assert describe_moment(datetime(2026, 12, 20, 11, 0, tzinfo=UTC), now, BRT) == "em 20/12 às 8h"


# ---- splitting ------------------------------------------------------------------------------------------


def test_short_texts_are_not_split() -> None:
    assert split_text("  Olá!  ", 160) == ["Olá!"]
    assert split_text("", 160) == []


def test_paragraphs_and_sentences_are_preferred_and_words_never_cut() -> None:
    text = "Primeiro parágrafo curto mas nem tanto assim.\n\n" + "Frase número um. " * 12
    parts = split_text(text, 120)
    assert parts[0] == "Primeiro parágrafo curto mas nem tanto assim."
    assert all(len(p) <= 120 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts).split() == text.split()


def test_a_long_code_is_kept_whole() -> None:
    code = "0002012658" + "x" * 200
    parts = split_text(f"Pix copia e cola:\n{code}\nObrigado!", 160)
    assert code in parts


# ---- Rasa's answers -------------------------------------------------------------------------------------


def test_buttons_become_numbered_options() -> None:
    message = BotMessage(text="Escolha uma opção:", buttons=["À vista", "3x sem juros"])
    assert message.rendered_text() == "Escolha uma opção:\n1) À vista\n2) 3x sem juros"


def test_rasa_image_items_are_joined_to_their_text() -> None:
    from bot.rasa.client import _join_images

    items = [
        BotMessage(text="Pix:"),
        BotMessage(text="000201..."),
        BotMessage(image="https://x/qr.png"),
        BotMessage(image="https://x/alone.png"),
    ]
    assert _join_images(items) == [
        BotMessage(text="Pix:"),
        BotMessage(text="000201...", image="https://x/qr.png"),
        BotMessage(image="https://x/alone.png"),
    ]
