"""Budgets on the Usage page (set, status, alerts, policy, remove) and on the chat page
(the banner near or over budget, and a refused message under the stop policy)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatbot import store
from ui_helpers import send

USAGE = "../../pages/usage.py"
CHAT = "../../pages/chat.py"


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def spend(db, usd: float | None, owner: str = "agent") -> None:
    """An API call the budgets count, recorded through the app's own store code."""
    engine = store.make_engine(f"sqlite:///{db.path}")
    try:
        with store.write_session(engine) as session:
            store.record_api_call(
                session=session, owner=owner, model="claude-sonnet-5-5", outcome="ok", cost_usd=usd
            )
    finally:
        engine.dispose()


def save_budget(
    at: AppTest, limit: float, *, period: str = "day", user: str | None = None
) -> AppTest:
    at.radio(key="budget-scope").set_value("user" if user is not None else "everyone")
    at.selectbox(key="budget-user").set_value(user or None)
    at.selectbox(key="budget-period").set_value(period)
    at.number_input(key="budget-limit").set_value(limit)
    next(b for b in at.button if b.label == "Save budget").click().run()
    assert not at.exception, at.exception
    return at


def bars(at: AppTest) -> list[tuple[int, str]]:
    return [(p.proto.value, p.proto.text) for p in at.get("progress")]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


@pytest.fixture
def usage(new_app, db, account):
    """The usage page of a fresh app (its database exists, so calls can be added), with
    an agent's account besides the admin's for one-person budgets."""
    account("agent")
    return open_page(new_app(user="admin"), USAGE)


def test_a_budget_set_on_the_usage_page_shows_its_status_and_alerts(usage, db):
    at = usage
    assert "No budgets yet" in " ".join(texts(at.caption))
    spend(db, 4.5)

    save_budget(at, 5.0)

    assert "Saved: the daily budget for everyone is $5.00." in texts(at.success)
    ((value, text),) = bars(at)
    assert value == 90
    assert "Daily budget for everyone" in text and "$4.50 of $5.00 (90%)" in text
    assert "resets at midnight UTC" in text
    assert any("80 % reached." in w for w in texts(at.warning))
    alerts = at.dataframe[0].value
    assert list(alerts["reached"]) == ["80 %", "50 %"]  # newest first
    assert list(alerts["budget"]) == ["daily, everyone"] * 2
    assert db("SELECT threshold FROM budget_alert ORDER BY threshold") == [(50,), (80,)]


def test_changing_the_limit_updates_the_one_budget_and_a_user_budget_is_separate(usage, db):
    at = save_budget(usage, 5.0)
    save_budget(at, 8.0)
    save_budget(at, 2.0, period="month", user="agent")

    assert db('SELECT "user", period, limit_usd FROM budget ORDER BY "user"') == [
        ("", "day", 8.0),
        ("agent", "month", 2.0),
    ]
    assert [text.split(":")[0] for _, text in bars(at)] == [
        "**Daily budget for everyone**",
        "**Monthly budget for agent**",
    ]


@pytest.mark.parametrize(
    ("limit", "user", "error"),
    [
        (0.0, None, "The limit must be more than $0"),
        (5_000_000.0, None, "at most $1,000,000"),
        (5.0, "", "Choose the person for a one-user budget"),
    ],
)
def test_a_bad_budget_is_refused_with_a_clear_error(usage, db, limit, user, error):
    at = save_budget(usage, limit, user=user)

    assert any(error in e for e in texts(at.error))
    assert db("SELECT COUNT(*) FROM budget") == [(0,)]


def test_the_budget_form_offers_the_existing_accounts(usage, account, db):
    picker = usage.selectbox(key="budget-user")
    assert picker.options == ["admin", "agent"] and picker.value is None

    account("qa")
    at = open_page(usage, USAGE)
    assert at.selectbox(key="budget-user").options == ["admin", "agent", "qa"]
    save_budget(at, 3.0, user="qa")
    assert db('SELECT "user", limit_usd, updated_by FROM budget') == [("qa", 3.0, "admin")]
    assert db("SELECT action, actor, target, detail FROM audit_entry WHERE action = 'budget.set'") == [
        ("budget.set", "admin", "budget:day/qa", "none -> $3.00")
    ]


def test_a_budget_can_be_removed(usage, db):
    at = save_budget(usage, 5.0)
    at.button(key=f"budget-remove-{db('SELECT id FROM budget')[0][0]}").click().run()

    assert "Removed the daily budget for everyone." in texts(at.success)
    assert not bars(at) and db("SELECT COUNT(*) FROM budget") == [(0,)]


def test_the_over_budget_policy_is_saved(usage, db, new_app):
    at = usage
    assert at.radio(key="budget-policy").value == "warn"

    at.radio(key="budget-policy").set_value("stop").run()

    assert any("refuse new messages" in s for s in texts(at.success))
    assert db("SELECT value FROM app_setting WHERE key = 'over_budget_chat'") == [('"stop"',)]
    reloaded = open_page(new_app(user="admin"), USAGE)  # another browser session reads it back
    assert reloaded.radio(key="budget-policy").value == "stop"


def test_the_chat_page_warns_at_80_percent(usage, db):
    spend(db, 4.0)
    at = save_budget(usage, 5.0)

    open_page(at, CHAT)

    (banner,) = at.warning
    assert "80% of the daily budget for everyone is spent" in banner.value
    assert "$4.00 of $5.00" in banner.value


def test_over_budget_chat_continues_with_a_warning_under_warn(usage, db):
    spend(db, 6.0)
    at = save_budget(usage, 5.0)
    open_page(at, CHAT)

    send(at, "Where is order 1042?")

    assert db("SELECT COUNT(*) FROM message") == [(2,)]
    assert not at.error
    assert any("chat carries on" in w for w in texts(at.warning))


def test_over_budget_chat_is_refused_under_stop_with_nothing_stored(usage, db):
    spend(db, 6.0, owner="admin")  # the admin who set the budget chats in the same session
    at = save_budget(usage, 5.0, user="admin")
    at.radio(key="budget-policy").set_value("stop").run()
    open_page(at, CHAT)
    assert any("new messages are refused" in w for w in texts(at.warning))

    send(at, "Where is order 1042?")

    (error,) = at.error
    assert "The daily budget for admin is used up" in error.value
    assert "Nothing was sent" in error.value and "ask an admin" in error.value
    assert db("SELECT COUNT(*) FROM message") == [(0,)]
    assert db("SELECT COUNT(*) FROM api_call") == [(1,)]  # only the spend added above
    assert "Where is order 1042?" in at.code[0].value  # the draft is kept to send later
