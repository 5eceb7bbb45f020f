"""Who may read and change budgets and usage: admins only, each change audited with its
author and a before -> after; refusals change nothing and are audited; the chat banner
speaks to anyone, of the budgets that apply to them only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from chatbot import store
from chatbot.auth import AccessDenied
from chatbot.errors import InputError
from chatbot.llm.ratelimit import RateLimiter, RateLimits, RateLimitWaitExceeded, UserLimits
from chatbot.services.budgets import BudgetService
from chatbot.services.call_log import opaque_user
from chatbot.services.usage import UsageService
from actors import ADMIN, AGENT, AGENT2, QA
from test_services_budgets import add_accounts, spend

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def budgets(engine):
    add_accounts(engine, "agent", "agent2")
    return BudgetService(engine, clock=lambda: NOW, fresh_for=0)


def audit(engine, action: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """(action, actor, role, target, detail) of the audit entries, oldest first."""
    sql = "SELECT action, actor, role, target, detail FROM audit_entry"
    with engine.connect() as connection:
        rows = connection.execute(text(f"{sql} ORDER BY id")).all()
    return [tuple(r) for r in rows if action is None or r[0] == action]


def written(engine) -> tuple[list, list]:
    with engine.connect() as connection:
        return (
            connection.execute(text('SELECT "user", period, limit_usd FROM budget')).all(),
            connection.execute(text("SELECT key, value FROM app_setting")).all(),
        )


# -- refusals ------------------------------------------------------------------------------

CHANGES = {
    "set_budget": lambda b, actor, _: b.set_budget(actor, user="", period="day", limit_usd=5),
    "set_budget for a person": lambda b, actor, _: b.set_budget(actor, user="agent", period="month",
                                                                 limit_usd=5),
    "remove_budget": lambda b, actor, budget_id: b.remove_budget(actor, budget_id),
    "set_policy": lambda b, actor, _: b.set_policy(actor, "stop"),
}
READS = {
    "statuses": lambda b, actor: b.statuses(actor),
    "alerts": lambda b, actor: b.alerts(actor),
    "policy": lambda b, actor: b.policy(actor),
}


@pytest.mark.parametrize("actor", [AGENT, QA], ids=["agent", "qa"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_agents_and_qa_cannot_change_budgets_and_nothing_is_written(engine, budgets, actor, change):
    existing = budgets.set_budget(ADMIN, user="", period="month", limit_usd=50)
    before = written(engine)

    with pytest.raises(AccessDenied) as refused:
        CHANGES[change](budgets, actor, existing.budget_id)

    assert "cannot change budgets" in refused.value.user_message
    assert written(engine) == before
    assert [a[1:3] for a in audit(engine, "access.denied")] == [(actor.username, actor.role.value)]
    assert audit(engine, "access.denied")[0][4] == "budgets.manage"
    assert [a[0] for a in audit(engine) if a[0] != "access.denied"] == ["budget.set"]  # the admin's


@pytest.mark.parametrize("actor", [AGENT, QA], ids=["agent", "qa"])
@pytest.mark.parametrize("read", list(READS))
def test_agents_and_qa_cannot_read_budgets(engine, budgets, actor, read):
    with pytest.raises(AccessDenied, match="cannot see usage and cost"):
        READS[read](budgets, actor)
    assert [(a[0], a[1], a[4]) for a in audit(engine)] == [("access.denied", actor.username, "usage.read")]


@pytest.mark.parametrize("actor", [AGENT, QA], ids=["agent", "qa"])
def test_agents_and_qa_cannot_read_usage(engine, actor):
    limiter = RateLimiter(default=RateLimits(rpm=600, burst=10), users=UserLimits(rpm=1, burst=1))
    limiter.acquire("m", user=opaque_user("agent2"))
    with pytest.raises(RateLimitWaitExceeded):
        limiter.acquire("m", user=opaque_user("agent2"), max_wait=0)  # agent2 is flagged
    spend(engine, 1.0, owner="agent2", at=NOW)
    usage = UsageService(engine, limiter=limiter)
    for read in (
        lambda: usage.summary(actor, NOW - DAY, NOW + DAY),
        lambda: usage.timeline(actor, NOW - DAY, NOW + DAY),
        lambda: usage.csv(actor, NOW - DAY, NOW + DAY),
        lambda: usage.owners(actor),
        lambda: usage.flagged(actor),
    ):
        with pytest.raises(AccessDenied, match="cannot see usage and cost"):
            read()
    assert len(audit(engine, "access.denied")) == 5

    # An admin sees it all, the flagged agent by name.
    assert usage.summary(ADMIN, NOW - DAY, NOW + DAY).total.calls == 1
    assert usage.owners(ADMIN) == ["agent2"]
    assert usage.flagged(ADMIN) == [("agent2", 1)]
    assert UsageService(engine).flagged(ADMIN) == []  # no limiter, nobody slowed down


# -- what an admin does is audited ---------------------------------------------------------


def test_setting_changing_and_removing_a_budget_is_audited_with_before_and_after(engine, budgets):
    everyone = budgets.set_budget(ADMIN, user="", period="day", limit_usd=5)
    budgets.set_budget(ADMIN, user="", period="day", limit_usd=7.5)
    budgets.set_budget(ADMIN, user="Agent2", period="month", limit_usd=0.25)  # case does not matter
    budgets.remove_budget(ADMIN, everyone.budget_id)

    assert audit(engine) == [
        ("budget.set", "admin", "admin", "budget:day/(everyone)", "none -> $5.00"),
        ("budget.set", "admin", "admin", "budget:day/(everyone)", "$5.00 -> $7.50"),
        ("budget.set", "admin", "admin", "budget:month/agent2", "none -> $0.2500"),
        ("budget.remove", "admin", "admin", "budget:day/(everyone)", "$7.50 -> none"),
    ]
    assert written(engine)[0] == [("agent2", "month", 0.25)]
    with store.read_session(engine) as session:
        (budget,) = store.budgets.list_budgets(session=session)
    assert budget.updated_by == "admin"


def test_the_over_budget_policy_change_is_audited(engine, budgets):
    budgets.set_policy(ADMIN, "stop")
    budgets.set_policy(ADMIN, "warn")
    with pytest.raises(InputError):
        budgets.set_policy(ADMIN, "maybe")

    assert audit(engine) == [
        ("setting.change", "admin", "admin", "setting:over_budget_chat", "warn -> stop"),
        ("setting.change", "admin", "admin", "setting:over_budget_chat", "stop -> warn"),
    ]
    assert budgets.policy(ADMIN) == "warn"


def test_a_budget_for_someone_without_an_account_is_refused(engine, budgets):
    for name in ("nobody", "Not A Name!"):
        with pytest.raises(InputError, match="no account named") as refused:
            budgets.set_budget(ADMIN, user=name, period="day", limit_usd=5)
        assert "Admin → Users" in refused.value.user_message
    assert written(engine)[0] == [] and audit(engine) == []


def test_a_removed_budget_cannot_be_removed_twice_and_nothing_is_audited(engine, budgets):
    status = budgets.set_budget(ADMIN, user="", period="day", limit_usd=5)
    budgets.remove_budget(ADMIN, status.budget_id)
    with pytest.raises(InputError, match="already removed"):
        budgets.remove_budget(ADMIN, status.budget_id)
    assert [a[0] for a in audit(engine)] == ["budget.set", "budget.remove"]


# -- the banner -----------------------------------------------------------------------------


def test_the_banner_speaks_only_of_the_budgets_that_apply_to_the_person(engine, budgets):
    budgets.set_budget(ADMIN, user="agent2", period="day", limit_usd=1)
    spend(engine, 0.9, owner="agent2", at=NOW)

    assert budgets.banner(AGENT2).startswith("90% of the daily budget for agent2")
    assert budgets.banner(AGENT) is None  # agent2's budget is not agent's business
    assert budgets.banner(QA) is None

    budgets.set_budget(ADMIN, user="", period="month", limit_usd=1)  # everyone's, at 90 %
    assert "monthly budget for everyone" in budgets.banner(AGENT)
    assert "agent2" not in budgets.banner(AGENT)
    assert audit(engine, "access.denied") == []  # anyone may ask for their own banner
