"""One reply at a time per conversation, across browser sessions."""

from __future__ import annotations

import pytest
from actors import AGENT
from ui_helpers import conversation_id, send, transcript

from chatbot.errors import ConversationBusy
from chatbot.ui.resources import get_runtime


def test_a_second_session_waits_for_the_reply_in_progress(new_app, sandbox, db):
    first = new_app()
    send(first, "The customer wants a refund for a damaged kettle.")
    cid = conversation_id(first)
    runtime = get_runtime()
    sandbox.state.add_faults([{"kind": "stall", "after": 3, "seconds": 1.5}])

    # The first session's agent sends; the reply stalls half-way on the sandbox.
    generation = runtime.chat.send(AGENT, conversation_id=cid, text="Where is order #1042?")
    try:
        assert runtime.chat.active(AGENT, cid) is generation
        with pytest.raises(ConversationBusy):
            runtime.chat.send(AGENT, conversation_id=cid, text="Hello again")
        with pytest.raises(ConversationBusy):
            runtime.chat.retry(AGENT, conversation_id=cid)
        assert db("SELECT role, status FROM message WHERE conversation_id = ? ORDER BY position", cid) == [
            ("user", "complete"),
            ("assistant", "complete"),
            ("user", "complete"),
            ("assistant", "streaming"),
        ]

        # A second browser session opens the same conversation while the reply is written;
        # its run follows the reply to the end. (That its input is disabled meanwhile is
        # checked in a real browser: tests/e2e.)
        second = new_app({"c": str(cid)})
    finally:
        generation.wait(timeout=30)

    # Once the reply is complete, the second session shows it from the database...
    assert generation.error is None
    assert not second.chat_input(key="prompt").disabled
    shown = transcript(second)
    assert [role for role, _ in shown] == ["user", "assistant", "user", "assistant"]
    assert "Sandbox reply, turn 2." in shown[3][1]
    stored = db("SELECT content, status FROM message WHERE conversation_id = ? ORDER BY position", cid)
    assert stored[3] == (generation.text, "complete")
    assert shown[3][1] == generation.text.strip()
    # ...and so does the first session on its next run.
    first.run()
    assert transcript(first) == shown
    assert len(sandbox.state.requests()) == 2  # the refused messages were never sent
