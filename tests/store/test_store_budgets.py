"""Budget rows, alerts raised once, app settings, and the spend sums budgets are checked
against, on a migrated SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from chatbot.store import read_session, record_api_call, write_session
from chatbot.store import budgets as rows
from chatbot.store.budgets import Spend

DAY = datetime(2026, 11, 28, tzinfo=UTC)


def budget(session, *, limit: float = 5, by: str = "a"):
    return rows.set_budget(session=session, user="", period="day", limit_usd=limit, updated_by=by)


def call(engine: Engine, *, at: datetime, owner: str = "ana", cost: float | None = 0.5) -> int:
    with write_session(engine) as session:
        return record_api_call(
            session=session, created_at=at, owner=owner, model="m", outcome="ok", cost_usd=cost
        ).id


def test_set_budget_creates_then_changes_the_one_row_per_user_and_period(engine):
    with write_session(engine) as session:
        first = budget(session)
        rows.set_budget(session=session, user="ana", period="day", limit_usd=1, updated_by="a")
    with write_session(engine) as session:
        changed = budget(session, limit=9, by="b")
    with read_session(engine) as session:
        listed = rows.list_budgets(session=session)

    assert changed.id == first.id
    assert [(b.user, b.period, b.limit_usd, b.updated_by) for b in listed] == [
        ("", "day", 9.0, "b"),
        ("ana", "day", 1.0, "a"),
    ]


def test_removing_a_budget_removes_its_alerts(engine):
    with write_session(engine) as session:
        created = budget(session)
        rows.record_alert(
            session=session,
            budget_id=created.id,
            period_start=DAY,
            threshold=50,
            spent_usd=3,
            limit_usd=5,
        )
    with write_session(engine) as session:
        assert rows.remove_budget(session=session, budget_id=created.id) is True
    with write_session(engine) as session:
        assert rows.remove_budget(session=session, budget_id=created.id) is False
    with read_session(engine) as session:
        assert rows.list_budgets(session=session) == []
        assert rows.list_alerts(session=session) == []


def test_an_alert_is_recorded_once_per_budget_period_and_threshold(engine):
    with write_session(engine) as session:
        created = budget(session)
    args = dict(budget_id=created.id, spent_usd=4.1, limit_usd=5.0)
    with write_session(engine) as session:
        first = rows.record_alert(session=session, period_start=DAY, threshold=80, **args)
        again = rows.record_alert(session=session, period_start=DAY, threshold=80, **args)
        # The failed duplicate must not have undone the rest of the transaction.
        other = rows.record_alert(session=session, period_start=DAY, threshold=100, **args)
    with write_session(engine) as session:
        next_day = rows.record_alert(
            session=session, period_start=DAY + timedelta(days=1), threshold=80, **args
        )

    assert (first, again, other, next_day) == (True, False, True, True)
    with read_session(engine) as session:
        listed = rows.list_alerts(session=session)
        raised = rows.alerts_in_period(session=session, period_starts=[DAY])
    assert len(listed) == 3 and all(b.id == created.id for _, b in listed)
    assert raised == {(created.id, DAY, 80), (created.id, DAY, 100)}


def test_spend_sums_a_range_per_owner_and_counts_unpriced_calls(engine):
    call(engine, at=DAY - timedelta(seconds=1), cost=100)  # yesterday: outside
    call(engine, at=DAY, cost=0.25)
    call(engine, at=DAY + timedelta(hours=5), cost=None)
    call(engine, at=DAY + timedelta(hours=6), owner="bo", cost=1.0)
    call(engine, at=DAY + timedelta(days=1), cost=100)  # tomorrow: outside
    until = DAY + timedelta(days=1)

    with read_session(engine) as session:
        everyone = rows.spend(session=session, since=DAY, until=until)
        ana = rows.spend(session=session, since=DAY, until=until, owner="ana")
        nobody = rows.spend(session=session, since=DAY, until=until, owner="zed")

    assert everyone == Spend(1.25, 3, 1)
    assert ana == Spend(0.25, 2, 1)  # the unpriced call is counted, not priced at $0
    assert nobody == Spend()


def test_spend_by_owner_splits_a_day_out_of_its_month_in_one_scan(engine):
    month = datetime(2026, 11, 1, tzinfo=UTC)
    call(engine, at=month, cost=2.0)
    call(engine, at=DAY + timedelta(hours=1), cost=0.5)
    call(engine, at=DAY + timedelta(hours=2), owner="bo", cost=None)

    with read_session(engine) as session:
        found = rows.spend_by_owner(
            session=session,
            since=month,
            until=datetime(2026, 12, 1, tzinfo=UTC),
            inside=(DAY, DAY + timedelta(days=1)),
        )

    assert found == {
        ("ana", False): Spend(2.0, 1, 0),
        ("ana", True): Spend(0.5, 1, 0),
        ("bo", True): Spend(0.0, 1, 1),
    }


def test_calls_after_an_id_are_read_by_primary_key(engine):
    first = call(engine, at=DAY)
    second = call(engine, at=DAY - timedelta(days=40), owner="bo", cost=None)
    with read_session(engine) as session:
        assert rows.last_api_call_id(session=session) == second
        after = rows.api_calls_after(session=session, after_id=first)
        assert rows.api_calls_after(session=session, after_id=second) == []
    assert [(r.id, r.owner, r.cost_usd) for r in after] == [(second, "bo", None)]
    assert after[0].created_at == DAY - timedelta(days=40)


def test_last_id_of_an_empty_log_is_zero(engine):
    with read_session(engine) as session:
        assert rows.last_api_call_id(session=session) == 0


@pytest.mark.parametrize("value", ["stop", {"nested": [1, 2]}, 3])
def test_settings_round_trip_as_json_and_fall_back_to_the_default(engine, value):
    with read_session(engine) as session:
        assert rows.get_setting(session=session, key="k", default="warn") == "warn"
    with write_session(engine) as session:
        rows.set_setting(session=session, key="k", value="first", updated_by="a")
    with write_session(engine) as session:
        rows.set_setting(session=session, key="k", value=value, updated_by="b")
    with read_session(engine) as session:
        assert rows.get_setting(session=session, key="k", default="warn") == value
