"""What the agent sees when the API fails: clear messages, saved partial text, Retry."""

from __future__ import annotations

import pytest
from ui_helpers import conversation_id, send, transcript


def stored(db, cid):
    return db(
        "SELECT role, content, status, error FROM message WHERE conversation_id = ? ORDER BY position",
        cid,
    )


def test_overloaded_is_retried_then_shown_with_a_retry_button(new_app, sandbox, db):
    sandbox.state.add_faults([{"kind": "status", "status": 529}] * 3)
    at = new_app()

    send(at, "Where is order #1042?")

    cid = conversation_id(at)
    assert len(sandbox.state.requests()) == 2  # CHATBOT_MAX_ATTEMPTS=2
    assert len(sandbox.state.faults) == 1
    assert transcript(at)[0] == ("user", "Where is order #1042?")
    reply = at.chat_message[1]
    assert reply.name == "assistant"
    assert "The assistant is overloaded; tried 2 times" in reply.error[0].value
    assert "Try again in a minute." in reply.error[0].value
    (user, assistant) = stored(db, cid)
    assert user[:3] == ("user", "Where is order #1042?", "complete")
    assert assistant[2] == "error" and "overloaded" in assistant[3]
    retry = at.button(key=f"retry-{db('SELECT id FROM message WHERE role = ?', 'assistant')[0][0]}")
    assert retry.label == "Retry"

    sandbox.state.clear_faults()
    retry.click().run()

    assert not at.exception
    assert not at.error
    assert len(transcript(at)) == 2  # the reply was replaced, not added
    assert "Sandbox reply, turn 1." in transcript(at)[1][1]
    assert all(b.label != "Retry" for b in at.main.button)
    assert stored(db, cid)[1][2:] == ("complete", None)
    assert stored(db, cid)[1][1] == transcript(at)[1][1]


@pytest.mark.parametrize(
    "fault, note",
    [
        ({"kind": "error_event", "after": 5}, "the assistant's service reported an error"),
        ({"kind": "drop", "after": 5}, "the connection dropped"),
    ],
    ids=["error_event", "drop"],
)
def test_a_reply_cut_off_midway_is_kept_as_partial(new_app, sandbox, db, fault, note):
    sandbox.state.add_faults([fault])
    at = new_app()

    send(at, "The customer wants a refund for a damaged kettle.")

    cid = conversation_id(at)
    assert len(sandbox.state.requests()) == 1  # never retried once text was shown
    role, content, status, error = stored(db, cid)[1]
    assert status == "partial" and note in error
    assert content.startswith("Thank") or content.startswith("Hello")
    assert "Sandbox reply" not in content  # the end never arrived
    shown = transcript(at)[1]
    assert shown == ("assistant", content.strip())  # st.markdown strips the edges
    warning = at.chat_message[1].warning[0].value
    assert warning.startswith("Partial reply:") and note in warning
    assert at.button(key=f"retry-{db('SELECT id FROM message WHERE role = ?', 'assistant')[0][0]}")


def test_a_rejected_key_tells_an_admin_and_is_never_retried(new_app, sandbox, db):
    sandbox.state.add_faults([{"kind": "status", "status": 401}] * 2)
    at = new_app()

    send(at, "Hello?")

    assert len(sandbox.state.requests()) == 1
    error = at.chat_message[1].error[0].value
    assert "An admin needs to check ANTHROPIC_API_KEY" in error
    assert transcript(at)[0] == ("user", "Hello?")
    assert stored(db, conversation_id(at))[1][2] == "error"


def test_a_reply_cut_off_by_a_server_restart_is_shown_as_interrupted(new_app, sandbox, db):
    import sqlite3

    at = new_app()
    send(at, "Where is order #1042?")
    cid = conversation_id(at)
    # What a server killed mid-reply leaves behind: a "streaming" row nobody touches.
    with sqlite3.connect(db.path) as connection:
        connection.execute(
            "UPDATE message SET status = 'streaming', content = 'Let me check', "
            "updated_at = '2026-01-01 00:00:00' WHERE conversation_id = ? AND position = 1",
            (cid,),
        )

    reloaded = new_app({"c": str(cid)})

    reply = reloaded.chat_message[1]
    assert "interrupted" in reply.warning[0].value
    assert not reloaded.chat_input(key="prompt").disabled
    (message_id,) = db("SELECT id FROM message WHERE conversation_id = ? AND position = 1", cid)[0]
    reloaded.button(key=f"retry-{message_id}").click().run()
    assert not reloaded.exception
    assert stored(db, cid)[1][2] == "complete"
    assert "Sandbox reply" in transcript(reloaded)[1][1]
