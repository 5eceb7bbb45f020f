"""The QA Checks page: create checks with the per-kind form and see them listed, refused
settings shown with the service's message and nothing saved, settings frozen once used,
archive, and the "Try it" box."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.services.replay import ReplayTarget
from chatbot.ui.resources import get_runtime
from actors import QA
from ui_helpers import conversation_id, open_address, send

PAGE = "../../pages/qa_checks.py"


def open_checks(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def page(new_app) -> AppTest:
    return open_checks(new_app(user="qa"))


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def new_form_prefix(at: AppTest, kind: str) -> str:
    at.selectbox(key="check-new-kind").set_value(kind).run()
    name = next(t for t in at.text_input if t.key and t.key.startswith(f"check-new-{kind}-") and t.key.endswith("-name"))
    return name.key.removesuffix("-name")


def create(at: AppTest, kind: str, name: str, **fields) -> AppTest:
    prefix = new_form_prefix(at, kind)
    at.text_input(key=f"{prefix}-name").set_value(name)
    for field, value in fields.items():
        key = f"{prefix}-{field}"
        for getter in (at.text_area, at.text_input, at.number_input, at.radio, at.checkbox, at.selectbox):
            matches = [w for w in getter if w.key == key]
            if matches:
                matches[0].set_value(value)
                break
        else:
            raise AssertionError(f"no widget {key}")
    next(b for b in at.button if b.label == "Create check").click().run()
    assert not at.exception, at.exception
    return at


def listed(at: AppTest) -> list[tuple[str, str, str]]:
    if not at.dataframe:
        return []
    table = at.dataframe[0].value
    return list(zip(table["name"], table["kind"], table["settings"]))


def stored_names() -> list[str]:
    return [c.name for c in get_runtime().checks.list(QA, include_archived=True)]


def test_a_check_created_on_the_page_is_listed(page, db):
    at = page
    assert "No checks yet" in at.info[0].value

    create(at, "contains", "Asks for the order number", text="order number")

    assert "Check “Asks for the order number” created." in texts(at.success)
    assert listed(at) == [("Asks for the order number", "Must contain", "contains “order number” (any case)")]
    assert db("SELECT name, kind, created_by FROM qa_check") == [("Asks for the order number", "contains", "qa")]

    create(at, "max_length", "Short", max=120, unit="words")
    assert ("Short", "Maximum length", "at most 120 words") in listed(at)


def test_a_bad_regex_shows_the_reason_and_saves_nothing(page, db):
    at = create(page, "regex", "Order id", pattern="order (\\d+")

    (error,) = texts(at.error)
    assert "not a valid regular expression" in error and "position" in error
    assert db("SELECT COUNT(*) FROM qa_check") == [(0,)]
    assert not listed(at) and not at.success


def test_bad_json_or_an_invalid_schema_shows_the_error_and_saves_nothing(page, db):
    at = create(page, "json_schema", "Answer object", schema='{"type": "object",')
    assert any("The schema is not valid JSON" in e for e in texts(at.error))

    at = create(at, "json_schema", "Answer object", schema='{"type": "objekt"}')
    assert any("not valid JSON Schema" in e for e in texts(at.error))
    assert db("SELECT COUNT(*) FROM qa_check") == [(0,)]

    at = create(at, "json_schema", "Answer object", schema='{"type": "object", "required": ["answer"]}')
    assert listed(at) == [("Answer object", "JSON matching a schema", 'JSON matching {"type":"object","required":["answer"]}')]


def test_try_it_shows_pass_and_fail_with_the_detail(page):
    at = create(page, "not_contains", "No promises", text="guarantee")
    check = get_runtime().checks.list(QA)[0]
    at.selectbox(key="check-picked").set_value(check.id).run()

    at.text_area(key=f"check-try-text-{check.id}").set_value("We will look into it today.")
    at.button(key=f"check-try-{check.id}").click().run()
    assert [s for s in texts(at.success) if s.startswith("**Pass.**")]
    assert not at.error

    at.text_area(key=f"check-try-text-{check.id}").set_value("I guarantee a refund.")
    at.button(key=f"check-try-{check.id}").click().run()
    (fail,) = [e for e in texts(at.error) if e.startswith("**Fail.**")]
    assert "guarantee" in fail


def test_rename_archive_and_frozen_settings(page, new_app, db):
    at = create(page, "contains", "Mentions refunds", text="refund")
    check = get_runtime().checks.list(QA)[0]
    at.selectbox(key="check-picked").set_value(check.id).run()
    prefix = f"check-edit-{check.id}-1"  # one save so far: the forms' generation is 1

    at.text_input(key=f"{prefix}-name").set_value("Talks about refunds")
    at.text_area(key=f"{prefix}-text").set_value("refunds")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert "Check “Talks about refunds” saved." in texts(at.success)
    assert db("SELECT name, json_extract(config, '$.text') FROM qa_check") == [("Talks about refunds", "refunds")]

    # Once the check has graded a reply its settings are fixed; the page shows why.
    graded_once(new_app, check.id)
    prefix = f"check-edit-{check.id}-2"
    at.text_area(key=f"{prefix}-text").set_value("money back")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert any("has already graded replies" in e for e in texts(at.error))
    assert db("SELECT json_extract(config, '$.text') FROM qa_check") == [("refunds",)]

    at.button(key=f"check-archive-{check.id}").click().run()
    assert "“Talks about refunds” is archived." in texts(at.success)
    assert not listed(at) and db("SELECT archived FROM qa_check") == [(1,)]
    at.toggle(key="checks-show-archived").set_value(True).run()
    assert [name for name, _, _ in listed(at)] == ["Talks about refunds"]
    at.button(key=f"check-unarchive-{check.id}").click().run()
    assert db("SELECT archived FROM qa_check") == [(0,)]


def test_an_agent_opening_the_checks_address_gets_the_no_access_page_only(new_app, db):
    get_runtime().checks.create(QA, name="Talks about refunds", kind="contains", config={"text": "refund"})

    page = open_address(new_app(), "qa_checks").main
    assert [t.value for t in page.title] == ["Checks"]
    assert texts(page.error) == ["You have no access to this page. Ask an admin if you need it."]
    assert not page.button and not page.dataframe and not page.selectbox and not page.text_input and not page.info
    assert db("SELECT name FROM qa_check") == [("Talks about refunds",)]

    admin = open_address(new_app(user="admin"), "qa_checks")
    assert not admin.error and [name for name, _, _ in listed(admin)] == ["Talks about refunds"]


def graded_once(new_app, check_id: int) -> None:
    """A conversation made on the chat page, replayed with the check (the app's services)."""
    chat = send(new_app(), "Can I get a refund?")
    runtime = get_runtime()
    run_id = runtime.replays.start(QA, [conversation_id(chat)], ReplayTarget(), [check_id])
    assert runtime.replays.wait(run_id, 30) and runtime.replays.progress(QA, run_id).status == "done"
