"""The Usage admin page: empty on a fresh database; after a conversation, metrics, charts,
the breakdown table and the call-log download."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from ui_helpers import open_address, send

PAGE = "../../pages/usage.py"


def open_usage(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}



def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def test_a_fresh_database_shows_the_empty_state(new_app):
    at = open_usage(new_app(user="admin"))

    assert at.title[0].value == "Usage"
    assert "No API calls in" in at.info[0].value
    assert not at.metric and not charts(at) and not at.get("download_button")
    assert not at.warning and not at.error


def test_after_a_conversation_the_page_shows_metrics_charts_table_and_csv(new_app, db, served):
    at = new_app(user="admin")
    send(at, "Where is order 1042?")
    send(at, "And when will it arrive?")
    open_usage(at)

    shown = metrics(at)
    assert shown["Calls"] == "2"
    assert shown["Success rate"] == "100.0%"
    assert shown["Latency p50"].endswith(" s") and shown["Latency p95"].endswith(" s")
    (cost,) = db("SELECT SUM(cost_usd) FROM api_call")
    assert cost[0] > 0 and shown["Total cost"] == f"${cost[0]:.4f}"
    assert not at.warning  # every call was priced

    assert len(charts(at)) == 3  # tokens, cost, calls by outcome
    table = at.dataframe[-1].value
    assert list(table["model"]) == ["claude-sonnet-5-5"] and list(table["calls"]) == [2]

    (download,) = at.get("download_button")
    assert download.proto.label == "Download call log (CSV)"
    download = served["usage-csv"]
    assert download["mime"] == "text/csv" and str(download["file_name"]).endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(download["data"])))
    assert [(r["outcome"], r["model"], r["owner"]) for r in rows] == [("ok", "claude-sonnet-5-5", "admin")] * 2
    assert all(float(r["cost_usd"]) > 0 and "T" in r["created_at"] for r in rows)


def test_the_breakdown_can_be_grouped_by_user(new_app):
    at = new_app(user="admin")
    send(at, "hello")
    open_usage(at)

    at.segmented_control(key="usage-group-by").set_value("owner").run()

    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table["user"]) == ["admin"]


def test_a_failed_call_lowers_the_success_rate_and_shows_its_type(new_app, sandbox):
    at = new_app(user="admin")
    send(at, "first")
    sandbox.state.add_faults([{"kind": "status", "status": 400}])
    send(at, "second")
    open_usage(at)

    assert metrics(at)["Calls"] == "2" and metrics(at)["Success rate"] == "50.0%"
    errors = at.dataframe[0].value
    assert list(errors["calls"]) == [1]


def test_an_unpriced_model_is_flagged(new_app, db):
    at = new_app(user="admin")
    send(at, "hello")
    # As if the call had been made with a model the price file did not know.
    with sqlite3.connect(db.path) as connection:
        connection.execute("UPDATE api_call SET cost_usd = NULL, model = 'claude-next-9'")
    open_usage(at)

    (warning,) = at.warning
    assert "1 unpriced calls" in warning.value and "claude-next-9" in warning.value
    assert metrics(at)["Total cost"] == "$0.0000"


def test_the_range_picker_can_exclude_every_call(new_app):
    at = new_app(user="admin")
    send(at, "hello")
    open_usage(at)
    (picker,) = at.date_input
    first, _ = picker.value

    picker.set_value((first, first)).run()

    # Today's call is outside a one-day range a week ago.
    assert "No API calls in" in at.info[0].value


def test_a_broken_price_file_is_shown_and_calls_are_kept_unpriced(new_app, db, monkeypatch, tmp_path):
    broken = tmp_path / "prices.json"
    broken.write_text('{"models": {"claude-sonnet-5-5": {"input": 2, "output": "ten"}}}')
    monkeypatch.setenv("CHATBOT_PRICES_FILE", str(broken))
    at = new_app(user="admin")
    send(at, "hello")  # the reply is saved even though it cannot be priced
    open_usage(at)

    assert "model 'claude-sonnet-5-5'" in at.error[0].value and str(broken) in at.error[0].value
    assert db("SELECT outcome, cost_usd FROM api_call") == [("ok", None)]
    assert "1 unpriced calls" in at.warning[0].value


def test_an_agent_slowed_down_by_the_per_agent_limit_is_flagged_by_name(new_app, monkeypatch):
    from chatbot.llm.ratelimit import RateLimitWaitExceeded
    from chatbot.services.call_log import opaque_user
    from chatbot.ui.resources import get_runtime

    monkeypatch.setenv("CHATBOT_USER_RPM", "1")
    at = new_app(user="admin")
    send(at, "Where is order 1042?")  # takes this agent's one request a minute
    open_usage(at)
    assert not any("slowed down" in w.value for w in at.warning)

    limiter = get_runtime().client.limiter
    with pytest.raises(RateLimitWaitExceeded):  # the next one would wait: flagged, not sent
        limiter.acquire("claude-sonnet-5-5", user=opaque_user("admin"), max_wait=0)
    open_usage(at)
    (warning,) = [w.value for w in at.warning if "slowed down" in w.value]
    assert "limit of 1 requests a minute" in warning and "**admin**: 1 request slowed" in warning


@pytest.mark.parametrize("user", ["agent", "qa"])
def test_an_agent_or_qa_opening_usage_is_refused_and_sees_no_usage(new_app, db, user):
    at = new_app(user=user)
    if user == "agent":
        send(at, "Where is order 1042?")  # there is usage to hide

    open_address(at, "usage")

    assert [t.value for t in at.title] == ["Usage"]
    (refusal,) = at.error
    assert refusal.value == "You have no access to this page. Ask an admin if you need it."
    assert not at.metric and not at.get("progress") and not at.get("download_button")
    assert not at.dataframe and not at.date_input and not at.warning and not at.info
    with pytest.raises(KeyError):
        at.radio(key="budget-policy")
    assert db("SELECT action, actor, target, detail FROM audit_entry WHERE action = 'access.denied'") == [
        ("access.denied", user, "page:usage", "usage.read")
    ]
