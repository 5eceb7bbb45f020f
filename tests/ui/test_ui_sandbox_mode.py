"""With no API key the app answers from its own built-in sandbox, and says so."""

from __future__ import annotations

from ui_helpers import send, transcript

from chatbot.ui.resources import get_runtime


def test_no_key_starts_the_built_in_sandbox_and_says_so(new_app, sandbox, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("CHATBOT_SANDBOX_DELAY_MS", "0")

    at = new_app()

    notice = at.sidebar.info[0].value
    assert "Sandbox mode" in notice and "ANTHROPIC_API_KEY" in notice
    runtime = get_runtime()
    assert runtime.sandbox_mode
    assert runtime.client.settings.base_url != sandbox.base_url

    send(at, "Where is order #1042? It was due yesterday.")

    reply = transcript(at)[1]
    assert reply[0] == "assistant" and "Sandbox reply, turn 1." in reply[1]
    assert at.chat_message[1].caption[0].value.startswith("claude-")
    assert sandbox.state.requests() == []  # answered by the app's own sandbox, not the test's


def test_with_a_key_there_is_no_sandbox_notice(new_app):
    at = new_app()

    assert not get_runtime().sandbox_mode
    assert not [i for i in at.sidebar.info if "Sandbox mode" in i.value]
