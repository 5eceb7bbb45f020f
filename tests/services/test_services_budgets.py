"""Budgets: the service against a real SQLite file with API calls inserted directly, and
the chat service refusing or warning over budget with real calls to the loopback sandbox.
The pure rules (chatbot/services/budgets/rules.py) are in test_services_budget_rules.py. The key paths run on PostgreSQL too
(`also_postgresql`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.errors import ChatbotError, InputError, StatedError
from chatbot.services.budgets import BudgetExceeded, BudgetService
from chatbot.store import budgets as rows
from chatbot.store import users
from actors import ADMIN
from test_services_chat import WAIT, build_service, calls, transcript

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)
ANA = Actor("ana", Role.AGENT, "Ana Ruiz")  # the agent whose budgets these tests set


def add_accounts(engine, *names: str, role: str = "agent") -> None:
    """Accounts a one-person budget can name (no password: these never sign in)."""
    with store.write_session(engine) as session:
        for name in names:
            users.add_user(session=session, username=name, display_name=name.title(), role=role,
                           source="oidc")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def budgets(engine, clock):
    add_accounts(engine, "ana", "bo")
    # fresh_for=0: every check reads the calls inserted just before it.
    return BudgetService(engine, clock=clock, fresh_for=0)


def spend(engine, cost: float | None, *, owner: str = "ana", at: datetime | None = NOW):
    """An API call as if made at `at` (None: really now, for the services on a real clock)."""
    with store.write_session(engine) as session:
        store.record_api_call(
            session=session, created_at=at or store.utc_now(), owner=owner, model="m",
            outcome="ok", cost_usd=cost,
        )


def alerts(engine) -> list[tuple[str, str, datetime, int]]:
    with store.read_session(engine) as session:
        found = rows.list_alerts(session=session)
    return sorted((b.user, b.period, a.period_start, a.threshold) for a, b in found)


# -- the service -------------------------------------------------------------------------


@pytest.mark.also_postgresql
def test_statuses_show_spent_limit_level_and_unpriced_calls(engine, budgets):
    spend(engine, 4.0)
    spend(engine, None)
    spend(engine, 30.0, at=NOW - timedelta(days=1))  # this month, not today
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=5)
    budgets.set_budget(ADMIN, user="", period="month", limit_usd=100)

    day, month = budgets.statuses(ADMIN)

    assert (day.period, day.spent_usd, day.limit_usd, day.level, day.unpriced_calls) == (
        "day", 4.0, 5.0, 80, 1
    )
    assert day.fraction == pytest.approx(0.8) and day.calls == 2
    assert day.resets_at == datetime(2026, 11, 29, tzinfo=UTC)
    assert (month.spent_usd, month.level, month.unpriced_calls) == (34.0, 0, 1)
    assert "1 unpriced calls" in day.figures()  # flagged: the real spend is higher


def test_non_chat_purposes_are_refused_over_budget_whatever_the_policy(engine, budgets):
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=1)
    assert budgets.check("summary", "ana") is None
    spend(engine, 1.0)

    with pytest.raises(BudgetExceeded) as refused:
        budgets.check("summary", "ana")

    message = refused.value.user_message
    assert isinstance(refused.value, StatedError) and isinstance(refused.value, ChatbotError)
    assert "daily budget for everyone is used up" in message
    assert "$1.00 of $1.00" in message
    assert "midnight UTC (in 8 h 30 min)" in message
    assert "Nothing was sent" in message and "ask an admin" in message
    assert budgets.policy(ADMIN) == "warn"


def test_spend_committed_up_front_is_refused_when_it_would_pass_a_limit(engine, budgets):
    # A Message Batch is processed whole: it cannot be stopped between calls like a live run.
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=10)
    budgets.set_budget(ADMIN, user="ana", period="day", limit_usd=5)
    spend(engine, 3.0, owner="ana")
    assert budgets.check("replay", "ana", upfront_usd=2.0) is None  # exactly the $2 left
    with pytest.raises(BudgetExceeded) as refused:
        budgets.check("replay", "ana", upfront_usd=2.5)
    message = refused.value.user_message
    assert message.startswith("This would cost about $2.50, more than the $2.00 left of the daily budget for ana")
    assert "Nothing was sent" in message and refused.value.status.user == "ana"
    assert budgets.check("replay", "bo", upfront_usd=2.5) is None  # ana's cap is not bo's
    assert budgets.check("replay", "ana") is None  # a live run is checked call by call


def test_chat_carries_on_with_a_warning_under_warn_and_is_refused_under_stop(engine, budgets):
    budgets.set_budget(ADMIN, user="", period="month", limit_usd=10)
    spend(engine, 12.5)

    warning = budgets.check("chat", "ana")
    assert "monthly budget for everyone is used up" in warning and "chat carries on" in warning
    assert "01 Dec 2026" in warning

    budgets.set_policy(ADMIN, "stop")
    with pytest.raises(BudgetExceeded, match="Nothing was sent"):
        budgets.check("chat", "ana")
    assert "new messages are refused" in budgets.banner(ANA)
    with pytest.raises(InputError):
        budgets.set_policy(ADMIN, "maybe")


def test_a_warning_starts_at_80_percent(engine, budgets):
    budgets.set_budget(ADMIN, user="ana", period="day", limit_usd=10)
    spend(engine, 7.9)
    assert budgets.check("chat", "ana") is None and budgets.banner(ANA) is None
    spend(engine, 0.1)
    assert budgets.check("chat", "ana").startswith("80% of the daily budget for ana is spent")
    assert budgets.banner(ANA) == budgets.check("chat", "ana")


@pytest.mark.also_postgresql
def test_a_user_budget_counts_only_that_user_and_the_overall_counts_everyone(engine, budgets):
    budgets.set_budget(ADMIN, user="ana", period="day", limit_usd=1)
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=10)
    budgets.set_policy(ADMIN, "stop")
    spend(engine, 5.0, owner="bo")

    assert budgets.check("chat", "ana") is None  # bo's spend is not ana's
    spend(engine, 1.0, owner="ana")
    with pytest.raises(BudgetExceeded, match="daily budget for ana"):
        budgets.check("chat", "ana")
    assert budgets.check("chat", "bo") is None  # ana's cap is not bo's
    spend(engine, 4.0, owner="bo")
    with pytest.raises(BudgetExceeded, match="daily budget for everyone"):
        budgets.check("chat", "bo")


def test_unpriced_calls_add_no_spend_but_are_flagged(engine, budgets):
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=1)
    for _ in range(3):
        spend(engine, None)

    (status,) = budgets.statuses(ADMIN)
    assert (status.spent_usd, status.calls, status.unpriced_calls, status.level) == (0.0, 3, 3, 0)
    spend(engine, 0.9)
    assert "not counting 3 unpriced calls" in budgets.check("chat", "ana")


@pytest.mark.also_postgresql
def test_thresholds_raise_one_alert_each_per_period(engine, budgets, clock):
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=10)
    day = datetime(2026, 11, 28, tzinfo=UTC)
    spend(engine, 6.0)
    assert [t for _, t in budgets.after_call("ana")] == [50]
    assert budgets.after_call("ana") == []  # still 60 %: nothing new
    spend(engine, 5.0)
    assert [t for _, t in budgets.after_call("ana")] == [80, 100]
    assert BudgetService(budgets.engine, clock=clock).after_call("ana") == []  # another process

    clock.now += timedelta(days=1)  # a new day starts from zero
    assert budgets.after_call("ana") == []
    spend(engine, 5.0, at=clock.now)
    assert [t for _, t in budgets.after_call("ana")] == [50]

    assert alerts(engine) == [
        ("", "day", day, 50), ("", "day", day, 80), ("", "day", day, 100),
        ("", "day", day + timedelta(days=1), 50),
    ]
    newest = budgets.alerts(ADMIN, limit=1)[0]
    assert (newest.scope, newest.threshold) == ("everyone", 50)
    assert (newest.spent_usd, newest.limit_usd) == (5.0, 10.0)


def test_setting_a_limit_below_the_spend_raises_its_alerts_at_once(engine, budgets):
    spend(engine, 3.0)
    status = budgets.set_budget(ADMIN, user="ana", period="month", limit_usd=2)
    assert status.level == 100
    assert [t for *_, t in alerts(engine)] == [50, 80, 100]


@pytest.mark.also_postgresql
def test_the_day_rolls_over_without_a_rescan_and_the_month_carries_on(engine, budgets, clock):
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=10)
    budgets.set_budget(ADMIN, user="", period="month", limit_usd=100)
    spend(engine, 9.0)
    budgets.check("chat", "ana")
    clock.now = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    spend(engine, 1.0, at=clock.now)

    day, month = budgets.statuses(ADMIN)
    assert (day.spent_usd, month.spent_usd) == (1.0, 10.0)

    clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)  # a new month: both from zero
    day, month = budgets.statuses(ADMIN)
    assert (day.spent_usd, month.spent_usd) == (0.0, 0.0)
    assert month.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_clock_moved_back_before_the_sums_rebuilds_them(engine, budgets, clock):
    budgets.set_budget(ADMIN, user="", period="month", limit_usd=100)
    spend(engine, 7.0, at=datetime(2026, 10, 3, tzinfo=UTC))
    assert budgets.statuses(ADMIN)[0].spent_usd == 0.0
    clock.now = datetime(2026, 10, 20, tzinfo=UTC)
    assert budgets.statuses(ADMIN)[0].spent_usd == 7.0


def test_checks_use_cached_sums_until_after_call_says_there_is_a_new_call(engine, clock):
    ticks = [0.0]
    cached = BudgetService(engine, clock=clock, fresh_for=60, timer=lambda: ticks[0])
    cached.set_budget(ADMIN, user="", period="day", limit_usd=1)
    cached.set_policy(ADMIN, "stop")
    assert cached.check("chat", "ana") is None
    spend(engine, 2.0)

    assert cached.check("chat", "ana") is None  # not read yet: within fresh_for
    cached.after_call("ana")
    with pytest.raises(BudgetExceeded):
        cached.check("chat", "ana")


def test_a_cached_check_reads_again_after_fresh_for(engine, clock):
    ticks = [0.0]
    cached = BudgetService(engine, clock=clock, fresh_for=1, timer=lambda: ticks[0])
    cached.set_budget(ADMIN, user="", period="day", limit_usd=1)
    cached.check("summary", "ana")
    spend(engine, 2.0)  # as if recorded by another process, with no after_call here
    ticks[0] = 1.5
    with pytest.raises(BudgetExceeded):
        cached.check("summary", "ana")


@pytest.mark.also_postgresql
def test_a_periodic_rebuild_finds_a_call_the_incremental_read_missed(engine, clock):
    ticks = [0.0]
    cached = BudgetService(
        engine, clock=clock, fresh_for=0, rebuild_after=300, timer=lambda: ticks[0]
    )
    cached.set_budget(ADMIN, user="", period="day", limit_usd=10)
    spend(engine, 1.0)
    cached.check("chat", "ana")
    # A call committed late under a lower id than one already read (PostgreSQL can do this).
    cached._sums.last_id += 100
    spend(engine, 2.0)
    assert cached.statuses(ADMIN)[0].spent_usd == 1.0
    ticks[0] = 301
    assert cached.statuses(ADMIN)[0].spent_usd == 3.0


def test_removing_a_budget_lifts_it(engine, budgets):
    status = budgets.set_budget(ADMIN, user="", period="day", limit_usd=1)
    spend(engine, 5.0)
    budgets.remove_budget(ADMIN, status.budget_id)
    assert budgets.statuses(ADMIN) == [] and budgets.check("summary", "ana") is None
    with pytest.raises(InputError, match="already removed"):
        budgets.remove_budget(ADMIN, status.budget_id)


# -- with the chat service ---------------------------------------------------------------


@pytest.fixture
def chat(tmp_path, sandbox, database_url):
    service = build_service(tmp_path, sandbox.base_url, database_url=database_url)
    service.budgets = BudgetService(service.engine, fresh_for=0)
    add_accounts(service.engine, "ana")
    yield service
    service.close()
    service.generations.shutdown()
    service.client.close()
    service.engine.dispose()


def test_send_under_stop_over_budget_is_refused_with_nothing_stored_or_sent(chat, sandbox):
    chat.budgets.set_budget(ADMIN, user="", period="day", limit_usd=0.5)
    chat.budgets.set_policy(ADMIN, "stop")
    spend(chat.engine, 0.75, at=None)
    sent_before = len(sandbox.state.requests())

    with pytest.raises(BudgetExceeded, match="Nothing was sent"):
        chat.send(ANA, conversation_id=None, text="Where is order 1042?")

    with store.read_session(chat.engine) as session:
        assert store.list_conversations(session=session) == []
    assert len(calls(chat)) == 1  # only the one inserted above
    assert len(sandbox.state.requests()) == sent_before


def test_retry_under_stop_over_budget_is_refused_and_the_reply_is_left_as_it_was(chat):
    first = chat.send(ANA, conversation_id=None, text="hello")
    assert first.wait(WAIT)
    chat.budgets.set_budget(ADMIN, user="ana", period="month", limit_usd=0.01)
    chat.budgets.set_policy(ADMIN, "stop")
    spend(chat.engine, 1.0, at=None)

    with pytest.raises(BudgetExceeded, match="monthly budget for ana"):
        chat.retry(ANA, conversation_id=first.conversation_id)
    user, reply = transcript(chat, first.conversation_id)
    assert (reply.status, reply.content) == ("complete", first.text)  # not reset to streaming


def test_under_warn_chat_is_sent_and_the_page_gets_a_warning(chat):
    chat.budgets.set_budget(ADMIN, user="", period="day", limit_usd=0.5)
    spend(chat.engine, 0.75, at=None)

    generation = chat.send(ANA, conversation_id=None, text="hello")
    assert generation.wait(WAIT) and generation.error is None

    assert "chat carries on" in chat.budget_warning(ANA)
    assert len(calls(chat)) == 2


@pytest.mark.also_postgresql
def test_a_real_call_raises_the_alerts_it_crosses(chat):
    chat.budgets.set_budget(ADMIN, user="ana", period="day", limit_usd=1e-9)
    assert alerts(chat.engine) == []

    generation = chat.send(ANA, conversation_id=None, text="hello")
    assert generation.wait(WAIT)

    (call,) = calls(chat)
    assert call.cost_usd > 0
    raised = [(user, t) for user, _, _, t in alerts(chat.engine)]
    assert raised == [("ana", 50), ("ana", 80), ("ana", 100)]


def test_without_budgets_the_chat_service_has_no_warning(tmp_path, sandbox):
    service = build_service(tmp_path, sandbox.base_url)
    try:
        assert service.budget_warning(ANA) is None
    finally:
        service.close()
        service.generations.shutdown()
        service.client.close()
        service.engine.dispose()
