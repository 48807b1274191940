"""The legal contact window for proactive messages: hours, Sundays, holidays, zones, creditor narrowing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import holidays
import pytest

from bot.hours import InvalidHours
from bot.reminders.window import (
    LEGAL_HOURS,
    LEGAL_WINDOW,
    ContactWindow,
    debtor_next_opening,
    debtor_window_open,
)

SAO_PAULO = "America/Sao_Paulo"
MANAUS = "America/Manaus"
RIO_BRANCO = "America/Rio_Branco"
NORONHA = "America/Noronha"


def local(text: str, zone: str = SAO_PAULO) -> datetime:
    """A wall-clock time in `zone`, e.g. local("2026-11-23T08:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def is_open(
    moment: datetime, zone: str = SAO_PAULO, state: str | None = "SP", window: ContactWindow = LEGAL_WINDOW
) -> bool:
    return window.is_open(moment, timezone=zone, state=state)


def next_opening(
    moment: datetime, zone: str = SAO_PAULO, state: str | None = "SP", window: ContactWindow = LEGAL_WINDOW
) -> datetime:
    return window.next_opening(moment, timezone=zone, state=state)


# 23-27 November 2026 is Monday to Friday; the 28th a Saturday, the 29th a Sunday. No holidays in SP.
WEEKDAYS = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]


def test_the_legal_hours() -> None:
    assert LEGAL_HOURS == "seg-sex 08:00-20:00; sab 08:00-14:00"
    assert ContactWindow() == ContactWindow.legal() == LEGAL_WINDOW
    assert not LEGAL_WINDOW.clipped


@pytest.mark.parametrize("day", WEEKDAYS)
def test_weekday_boundaries(day: str) -> None:
    assert not is_open(local(f"{day}T07:59"))
    assert is_open(local(f"{day}T08:00"))
    assert is_open(local(f"{day}T19:59"))
    assert not is_open(local(f"{day}T20:00"))


def test_saturday_boundaries() -> None:
    assert not is_open(local("2026-11-28T07:59"))
    assert is_open(local("2026-11-28T08:00"))
    assert is_open(local("2026-11-28T13:59"))
    assert not is_open(local("2026-11-28T14:00"))


@pytest.mark.parametrize("clock", ["00:00", "08:00", "10:00", "13:59", "19:59", "23:59"])
def test_sunday_is_always_closed(clock: str) -> None:
    assert not is_open(local(f"2026-11-29T{clock}"))


# ---- holidays ---------------------------------------------------------------------------------------------


def test_the_holidays_used_here_are_what_the_package_says() -> None:
    national = holidays.country_holidays("BR", years=[2023, 2026])
    assert "2026-11-20" in national  # Consciência Negra, national since Lei 14.759/2023
    assert "2023-11-20" not in national
    assert "2026-12-25" in national and "2026-09-07" in national
    for state, day in [("SP", "2026-07-09"), ("BA", "2026-07-02"), ("AC", "2026-06-15")]:
        assert day not in national
        assert day in holidays.country_holidays("BR", subdiv=state, years=2026)


@pytest.mark.parametrize("state", ["SP", "RJ", "BA", None])
@pytest.mark.parametrize("day", ["2026-11-20", "2026-12-25", "2026-09-07"])  # Fri, Fri, Mon
def test_national_holidays_are_closed_everywhere(day: str, state: str | None) -> None:
    assert not is_open(local(f"{day}T10:00"), state=state)


def test_sao_paulo_holiday_only_in_sao_paulo() -> None:
    revolution = local("2026-07-09T10:00")  # Revolução Constitucionalista, a Thursday
    assert not is_open(revolution, state="SP")
    assert not is_open(revolution, state="sp")  # the UF in any case
    assert is_open(revolution, state="RJ")
    assert is_open(revolution, state="BA")


def test_bahia_holiday_only_in_bahia() -> None:
    independence = local("2026-07-02T10:00")  # Independência da Bahia, a Thursday
    assert not is_open(independence, state="BA")
    assert is_open(independence, state="SP")


def test_acre_holiday_in_acre_time() -> None:
    founding = local("2026-06-15T10:00", RIO_BRANCO)  # Aniversário do Acre, a Monday
    assert not is_open(founding, RIO_BRANCO, "AC")
    assert is_open(founding, RIO_BRANCO, "RO")
    assert next_opening(founding, RIO_BRANCO, "AC") == local("2026-06-16T08:00", RIO_BRANCO)


@pytest.mark.parametrize("state", [None, "", "XX", "São Paulo Capital"])
def test_unknown_or_missing_state_means_national_holidays_only(state: str | None) -> None:
    assert is_open(local("2026-07-09T10:00"), state=state)  # no SP holiday
    assert not is_open(local("2026-12-25T10:00"), state=state)


# ---- time zones -------------------------------------------------------------------------------------------


def test_the_debtors_local_time_decides() -> None:
    friday_night = datetime(2026, 11, 28, 0, 59, tzinfo=UTC)  # Friday 19:59 in Rio Branco, 21:59 in Brasília
    assert is_open(friday_night, RIO_BRANCO, "AC")
    assert not is_open(friday_night, MANAUS, "AM")  # 20:59
    assert not is_open(friday_night, SAO_PAULO, "SP")
    assert not is_open(friday_night, NORONHA, "PE")


def test_the_same_morning_instant_in_the_four_zones() -> None:
    morning = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)  # Tuesday
    assert is_open(morning, NORONHA, "PE")  # 09:30
    assert is_open(morning, SAO_PAULO, "SP")  # 08:30
    assert not is_open(morning, MANAUS, "AM")  # 07:30
    assert not is_open(morning, RIO_BRANCO, "AC")  # 06:30
    assert next_opening(morning, MANAUS, "AM") == local("2026-11-24T08:00", MANAUS)
    assert next_opening(morning, RIO_BRANCO, "AC") == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)


def test_seven_fifty_nine_local_is_closed_in_every_zone() -> None:
    for zone in (NORONHA, SAO_PAULO, MANAUS, RIO_BRANCO):
        assert not is_open(local("2026-11-24T07:59", zone), zone, None)
        assert is_open(local("2026-11-24T08:00", zone), zone, None)


# ---- next opening -----------------------------------------------------------------------------------------


def test_next_opening_is_the_moment_itself_when_open() -> None:
    moment = local("2026-11-24T10:15")
    assert next_opening(moment) == moment


def test_next_opening_after_saturday_afternoon_is_monday_morning() -> None:
    assert next_opening(local("2026-11-28T14:00")) == local("2026-11-30T08:00")
    assert next_opening(local("2026-11-29T12:00")) == local("2026-11-30T08:00")  # from Sunday


def test_next_opening_after_friday_evening_is_saturday_morning() -> None:
    assert next_opening(local("2026-11-27T20:30")) == local("2026-11-28T08:00")


def test_next_opening_skips_a_holiday_monday() -> None:
    assert next_opening(local("2026-09-05T15:00")) == local("2026-09-08T08:00")  # 7 September is a Monday
    assert next_opening(local("2026-12-24T20:00")) == local("2026-12-26T08:00")  # Christmas on a Friday


def test_next_opening_is_in_the_debtors_zone() -> None:
    found = next_opening(datetime(2026, 11, 28, 17, 0, tzinfo=UTC), RIO_BRANCO, "AC")  # Sat 12:00 there
    assert found.tzinfo == ZoneInfo(RIO_BRANCO)
    found = next_opening(datetime(2026, 11, 28, 18, 0, tzinfo=UTC), MANAUS, "AM")  # Sat 14:00 there
    assert found == local("2026-11-30T08:00", MANAUS)
    assert str(found.tzinfo) == MANAUS


# ---- creditor narrowing -----------------------------------------------------------------------------------


def test_a_creditor_may_narrow_the_window() -> None:
    window = ContactWindow.for_creditor("seg-sex 09:00-18:00")
    assert not window.clipped
    assert not is_open(local("2026-11-24T08:30"), window=window)
    assert is_open(local("2026-11-24T09:00"), window=window)
    assert is_open(local("2026-11-27T17:59"), window=window)
    assert not is_open(local("2026-11-27T18:30"), window=window)  # Friday evening
    assert not is_open(local("2026-11-28T10:00"), window=window)  # Saturday
    assert next_opening(local("2026-11-27T18:30"), window=window) == local("2026-11-30T09:00")


def test_narrowing_keeps_holidays_closed() -> None:
    window = ContactWindow.for_creditor("seg-sab 10:00-12:00")
    assert not is_open(local("2026-07-09T11:00"), state="SP", window=window)
    assert is_open(local("2026-07-09T11:00"), state="RJ", window=window)


def test_a_widening_attempt_is_clipped_to_the_legal_window() -> None:
    window = ContactWindow.for_creditor("seg-dom 06:00-23:00")
    assert window.clipped
    assert window.spans == LEGAL_WINDOW.spans
    assert not is_open(local("2026-11-24T07:00"), window=window)
    assert not is_open(local("2026-11-24T21:00"), window=window)
    assert not is_open(local("2026-11-28T15:00"), window=window)  # Saturday afternoon
    assert not is_open(local("2026-11-29T10:00"), window=window)  # Sunday


def test_a_partly_wider_text_is_clipped_where_it_is_wider() -> None:
    window = ContactWindow.for_creditor("seg-sex 09:00-21:00; sab 10:00-12:00")
    assert window.clipped
    assert is_open(local("2026-11-24T19:59"), window=window)
    assert not is_open(local("2026-11-24T20:00"), window=window)
    assert not is_open(local("2026-11-24T08:30"), window=window)
    assert is_open(local("2026-11-28T11:00"), window=window)


@pytest.mark.parametrize("text", [None, "", "  "])
def test_no_narrowing_is_the_legal_window(text: str | None) -> None:
    window = ContactWindow.for_creditor(text)
    assert window == LEGAL_WINDOW and not window.clipped


@pytest.mark.parametrize("text", ["dom 09:00-12:00", "sab 15:00-18:00", "segunda 9h"])
def test_creditor_hours_that_cannot_be_used_are_rejected(text: str) -> None:
    with pytest.raises(InvalidHours):
        ContactWindow.for_creditor(text)


# ---- inputs -----------------------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 11, 24, 10, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        LEGAL_WINDOW.is_open(naive, timezone=SAO_PAULO, state="SP")
    with pytest.raises(ValueError, match="timezone-aware"):
        LEGAL_WINDOW.next_opening(naive, timezone=SAO_PAULO, state="SP")


def test_an_unknown_time_zone_is_an_error() -> None:
    with pytest.raises(KeyError):  # zoneinfo.ZoneInfoNotFoundError
        LEGAL_WINDOW.is_open(local("2026-11-24T10:00"), timezone="America/Atlantis", state=None)


@dataclass
class _Debtor:
    timezone: str | None
    state: str | None


def test_debtor_helpers() -> None:
    acre = _Debtor(RIO_BRANCO, "AC")
    friday_night = datetime(2026, 11, 28, 0, 59, tzinfo=UTC)  # 19:59 in Rio Branco
    assert debtor_window_open(acre, friday_night)
    assert not debtor_window_open(_Debtor(SAO_PAULO, "SP"), friday_night)
    assert debtor_next_opening(_Debtor(None, "SP"), friday_night) == local("2026-11-28T08:00")
    narrow = ContactWindow.for_creditor("seg-sex 09:00-18:00")
    assert not debtor_window_open(acre, friday_night, narrow)
    assert debtor_next_opening(acre, friday_night, narrow) == local("2026-11-30T09:00", RIO_BRANCO)
