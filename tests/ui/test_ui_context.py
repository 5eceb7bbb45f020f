"""A long conversation is cut to the context budget in the request, never on the page."""

from __future__ import annotations

import re

from ui_helpers import conversation_id, send, transcript

QUESTIONS = [
    "The customer wants a refund for a damaged kettle.",
    "They also ask where order #1042 is.",
    "And they cannot log in to their account.",
    "Can they cancel their subscription too?",
]


def test_oldest_turns_are_left_out_of_the_request_but_shown(new_app, sandbox, db, monkeypatch):
    monkeypatch.setenv("CHATBOT_CONTEXT_TOKENS", "450")
    at = new_app()

    for question in QUESTIONS:
        send(at, question)

    shown = transcript(at)
    assert [text for role, text in shown if role == "user"] == QUESTIONS  # all still on the page
    assert len(shown) == 2 * len(QUESTIONS)
    assert db("SELECT count(*) FROM message WHERE conversation_id = ?", conversation_id(at)) == [
        (2 * len(QUESTIONS),)
    ]
    history = [{"role": role, "content": text} for role, text in shown[:-1]]
    requests = [r["body"]["messages"] for r in sandbox.state.requests()]
    assert len(requests) == len(QUESTIONS)
    assert all(messages[0]["role"] == "user" for messages in requests)
    sent = requests[-1]
    assert 1 <= len(sent) < len(history)
    assert sent[0]["role"] == "user"
    assert sent == history[len(history) - len(sent) :]  # the newest turns, unchanged
    dropped = len(history) - len(sent)
    notices = [c.value for c in at.caption if "left out" in c.value]
    assert notices, [c.value for c in at.caption]
    assert re.search(rf"\b{dropped} earlier messages were left out", notices[-1])

    # The notice is stored with the reply, so it is still there after a reload.
    stored = db(
        "SELECT context_dropped FROM message WHERE conversation_id = ? AND role = 'assistant'"
        " ORDER BY position DESC LIMIT 1",
        conversation_id(at),
    )
    assert stored == [(dropped,)]
    reloaded = new_app({"c": str(conversation_id(at))})
    notices = [c.value for c in reloaded.caption if "left out" in c.value]
    assert re.search(rf"\b{dropped} earlier messages were left out", notices[-1])
