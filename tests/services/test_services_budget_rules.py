"""Budgets' pure rules: calendar periods in UTC, levels, thresholds crossed once, and the
validation of a budget an admin enters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chatbot.errors import InputError
from chatbot.services.budgets.rules import (
    clean_budget,
    level,
    newly_crossed,
    period_end,
    period_start,
)

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", NOW, datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
        ("month", NOW, datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        # Month and year roll over together.
        ("month", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
         datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("day", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
         datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("month", datetime(2028, 2, 29, 12, tzinfo=UTC),
         datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),
        # 01:30 in UTC+2 is still the previous day (and month) in UTC.
        ("day", datetime(2026, 12, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
         datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("month", datetime(2026, 12, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
         datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_periods_are_calendar_days_and_months_in_utc(period, now, start, end):
    assert period_start(period, now) == start and period_start(period, now).tzinfo == UTC
    assert period_end(period, now) == end


@pytest.mark.parametrize(
    ("spent", "limit", "expected"),
    [(0, 5, 0), (2.49, 5, 0), (2.5, 5, 50), (3.99, 5, 50), (4, 5, 80), (0.1 + 0.7, 1, 80),
     (4.99, 5, 80), (5, 5, 100), (50, 5, 100)],
)
def test_level_is_the_highest_threshold_reached(spent, limit, expected):
    assert level(spent, limit) == expected


def test_thresholds_are_newly_crossed_once():
    assert newly_crossed(0, set()) == ()
    assert newly_crossed(50, set()) == (50,)
    assert newly_crossed(100, {50}) == (80, 100)  # a jump past two raises both
    assert newly_crossed(80, {50, 80}) == ()


@pytest.mark.parametrize(
    ("user", "period", "limit", "error"),
    [
        ("", "week", 5, "daily or a monthly"),
        ("", "day", 0, "more than $0"),
        ("", "day", -3, "more than $0"),
        ("", "day", float("nan"), "more than $0"),
        ("", "day", "ten", "number of US dollars"),
        ("", "day", 2_000_000, "at most $1,000,000"),
        ("x" * 101, "day", 5, "at most 100"),
        ("a\x00b", "day", 5, "printable"),
    ],
)
def test_budgets_are_validated_with_a_message_that_says_what_to_fix(user, period, limit, error):
    with pytest.raises(InputError, match=error.replace("$", r"\$")):
        clean_budget(user, period, limit)


def test_a_valid_budget_is_cleaned():
    assert clean_budget("  ana ", "month", "7.5") == ("ana", "month", 7.5)
