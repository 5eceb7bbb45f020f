"""The chat page's main path: first visit, two turns, and coming back to a conversation."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from chatbot.personas import SUPPORT
from chatbot.ui.resources import get_runtime

from ui_helpers import APP
from ui_helpers import conversation_id, send, transcript

PERSONA = SUPPORT


def test_first_page_is_the_chat_with_greeting_and_suggestions(new_app):
    at = new_app()

    assert at.title[0].value == "New conversation"
    assert at.selectbox(key="new-persona").value == "support"
    assert transcript(at) == [("assistant", PERSONA.greeting)]
    suggestions = [b.label for b in at.main.button if b.key.startswith("suggest-")]
    assert suggestions == list(PERSONA.suggestions)
    assert not at.chat_input(key="prompt").disabled
    assert "c" not in at.query_params
    assert "No conversations yet." in [c.value for c in at.sidebar.caption]


def test_a_suggestion_button_sends_its_text(new_app, sandbox):
    at = new_app()
    suggestion = PERSONA.suggestions[0]

    at.button(key=f"suggest-{suggestion}").click().run()

    assert not at.exception
    assert transcript(at)[0] == ("user", suggestion)
    assert transcript(at)[1][0] == "assistant"
    assert sandbox.state.requests()[-1]["body"]["messages"][-1]["content"] == suggestion


def test_two_turns_stream_save_and_send_the_whole_history(new_app, sandbox, db):
    at = new_app()

    send(at, "I need a refund for order 1042")

    cid = conversation_id(at)
    (role1, user1), (role2, reply1) = transcript(at)
    assert (role1, user1) == ("user", "I need a refund for order 1042")
    assert role2 == "assistant"
    # The sandbox names the company from the system prompt and quotes the message.
    assert "Acme" in reply1 and '"I need a refund for order 1042"' in reply1
    assert "Sandbox reply, turn 1." in reply1
    caption = at.chat_message[1].caption[0].value
    assert re.fullmatch(
        re.escape(PERSONA.model) + r" · \d+ in / \d+ out tokens · first token \d+\.\d s · \d+\.\d s", caption
    ), caption
    assert db("SELECT role, content FROM message WHERE conversation_id = ? ORDER BY position", cid) == [
        ("user", user1),
        ("assistant", reply1),
    ]
    assert db("SELECT status FROM message WHERE role = 'assistant'") == [("complete",)]

    send(at, "Thanks. Where is it now?")

    assert conversation_id(at) == cid
    roles = [role for role, _ in transcript(at)]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert "Sandbox reply, turn 2." in transcript(at)[3][1]
    body = sandbox.state.requests()[-1]["body"]
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "I need a refund for order 1042"),
        ("assistant", reply1),
        ("user", "Thanks. Where is it now?"),
    ]
    assert body["stream"] is True
    assert "customer support assistant for Acme." in body["system"]
    assert "{{" not in body["system"]
    assert [b.key for b in at.sidebar.button] == ["sign-out", "new-conversation", f"open-{cid}"]


def test_reload_and_restart_show_the_conversation_from_the_database(new_app):
    first = new_app()
    send(first, "The customer can't log in after resetting their password.")
    send(first, "They tried twice.")
    cid = conversation_id(first)
    shown = transcript(first)
    assert len(shown) == 4

    reloaded = new_app({"c": str(cid)})
    assert transcript(reloaded) == shown
    assert reloaded.subheader[0].value == "The customer can't log in after resetting their password."

    # A server restart: a new process would build a new runtime over the same data dir.
    get_runtime().close()
    get_runtime.clear()
    restarted = new_app({"c": str(cid)})
    assert transcript(restarted) == shown
    assert [c.value for c in restarted.chat_message[1].caption] == [
        c.value for c in first.chat_message[1].caption
    ]


def test_a_link_to_a_deleted_conversation_opens_a_new_one(new_app):
    at = new_app({"c": "999"})

    assert "no longer exists" in at.warning[0].value
    assert "c" not in at.query_params
    assert transcript(at) == [("assistant", PERSONA.greeting)]


def test_empty_and_whitespace_input_is_ignored(new_app, sandbox, db):
    at = new_app()

    send(at, "   \n\t ")

    assert "c" not in at.query_params
    assert not at.error
    assert db("SELECT count(*) FROM message") == [(0,)]
    assert db("SELECT count(*) FROM conversation") == [(0,)]
    assert sandbox.state.requests() == []


def test_input_over_the_limit_is_refused_and_kept_for_the_agent(new_app, sandbox, db, monkeypatch):
    monkeypatch.setenv("CHATBOT_MAX_INPUT_CHARS", "50")
    at = new_app()
    # Not the widget's max_chars: Streamlit would silently cut the text and send the rest.
    assert not at.chat_input(key="prompt").max_chars
    text = "The customer says the parcel arrived damaged and wants a full refund today."
    assert len(text) > 50

    send(at, text)

    assert len(at.error) == 1
    assert f"{len(text)} characters long; the limit is 50" in at.error[0].value
    assert "Nothing was sent" in at.error[0].value
    assert at.code[0].value == text  # given back to copy, not lost
    assert "c" not in at.query_params
    assert db("SELECT count(*) FROM message") == [(0,)]
    assert db("SELECT count(*) FROM conversation") == [(0,)]
    assert sandbox.state.requests() == []



def test_a_bad_setting_is_shown_not_a_traceback(app_env, monkeypatch):
    monkeypatch.setenv("CHATBOT_READ_TIMEOUT", "soon")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    (error,) = at.error
    assert "CHATBOT_READ_TIMEOUT must be a number" in error.value
    assert not at.chat_input  # the app stops before any page renders
