"""Messages: positions, updates, and closing replies interrupted by a restart."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from chatbot.store import (
    INTERRUPTED_ERROR,
    Conversation,
    MessageStatus,
    NotFoundError,
    add_message,
    create_conversation,
    add_messages,
    lock_conversation,
    get_conversation,
    get_message,
    list_messages,
    mark_stale_streaming_as_partial,
    read_session,
    update_message,
    write_session,
)

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _age(engine: Engine, conversation_id: int) -> None:
    """Push the conversation's updated_at into the past, so a bump is visible."""
    with write_session(engine) as session:
        get_conversation(session=session, conversation_id=conversation_id).updated_at = LONG_AGO


def test_positions_count_up_per_conversation(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        other = create_conversation(session=session, persona="support")
        for i in range(3):
            add_message(
                session=session, conversation_id=conversation.id, role="user", content=f"q{i}"
            )
        add_message(session=session, conversation_id=other.id, role="user", content="other")
    with read_session(engine) as session:
        messages = list_messages(session=session, conversation_id=conversation.id)
        others = list_messages(session=session, conversation_id=other.id)
    assert [(m.position, m.content) for m in messages] == [(0, "q0"), (1, "q1"), (2, "q2")]
    assert [m.position for m in others] == [0]


def test_add_message_stores_fields_and_bumps_the_conversation(
    engine: Engine, conversation: Conversation
) -> None:
    _age(engine, conversation.id)
    with write_session(engine) as session:
        message = add_message(
            session=session,
            conversation_id=conversation.id,
            role="assistant",
            content="Hello",
            model="claude-x",
            input_tokens=10,
            output_tokens=2,
            stop_reason="end_turn",
            request_id="req_1",
            ttft_ms=120.5,
            total_ms=800.0,
        )
    with read_session(engine) as session:
        loaded = get_message(session=session, message_id=message.id)
        bumped = get_conversation(session=session, conversation_id=conversation.id)
    assert loaded.status == MessageStatus.COMPLETE and loaded.error is None
    assert (loaded.model, loaded.input_tokens, loaded.output_tokens) == ("claude-x", 10, 2)
    assert (loaded.stop_reason, loaded.request_id, loaded.ttft_ms) == ("end_turn", "req_1", 120.5)
    assert loaded.cache_read_input_tokens is None
    assert bumped.updated_at == loaded.created_at == loaded.updated_at


@pytest.mark.parametrize(
    "kwargs",
    [{"role": "system"}, {"status": "done"}],
)
def test_add_message_refuses_unknown_roles_and_statuses(
    engine: Engine, conversation: Conversation, kwargs
) -> None:
    arguments = {"role": "user", "content": "x"} | kwargs
    with pytest.raises(ValueError):
        with write_session(engine) as session:
            add_message(session=session, conversation_id=conversation.id, **arguments)


def test_add_message_refuses_store_owned_fields(engine: Engine, conversation: Conversation) -> None:
    with pytest.raises(TypeError, match="position"):
        with write_session(engine) as session:
            add_message(
                session=session, conversation_id=conversation.id, role="user", content="x",
                position=7,
            )  # fmt: skip


def test_add_message_to_a_missing_conversation(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        with write_session(engine) as session:
            add_message(session=session, conversation_id=999, role="user", content="x")


def test_update_message_bumps_both_timestamps(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        message = add_message(
            session=session, conversation_id=conversation.id, role="assistant", content="",
            status="streaming",
        )  # fmt: skip
        message.updated_at = LONG_AGO
    _age(engine, conversation.id)
    with write_session(engine) as session:
        updated = update_message(
            session=session, message_id=message.id, content="Hi there", status="complete",
            output_tokens=3,
        )  # fmt: skip
    with read_session(engine) as session:
        loaded = get_message(session=session, message_id=message.id)
        bumped = get_conversation(session=session, conversation_id=conversation.id)
    assert (loaded.content, loaded.status, loaded.output_tokens) == ("Hi there", "complete", 3)
    assert loaded.updated_at == updated.updated_at == bumped.updated_at > LONG_AGO
    assert loaded.created_at == message.created_at  # unchanged


def test_update_message_validates(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        message = add_message(
            session=session, conversation_id=conversation.id, role="user", content="x"
        )
    with pytest.raises(ValueError):
        with write_session(engine) as session:
            update_message(session=session, message_id=message.id, status="nope")
    with pytest.raises(TypeError, match="conversation_id"):
        with write_session(engine) as session:
            update_message(session=session, message_id=message.id, conversation_id=2)
    with pytest.raises(NotFoundError):
        with write_session(engine) as session:
            update_message(session=session, message_id=999, content="x")


def test_a_turn_appends_at_the_known_position_of_a_locked_conversation(
    engine: Engine, conversation: Conversation
) -> None:
    with write_session(engine) as session:
        add_message(session=session, conversation_id=conversation.id, role="user", content="q")
    with write_session(engine) as session:
        locked = lock_conversation(session=session, conversation_id=conversation.id)
        history = list_messages(session=session, conversation_id=conversation.id)
        user, reply = add_messages(
            session=session,
            conversation_id=conversation.id,
            messages=[
                {"role": "user", "content": "again"},
                {"role": "assistant", "content": "", "status": MessageStatus.STREAMING},
            ],
            locked=locked,
            position=history[-1].position + 1,
        )
    assert (user.position, reply.position, reply.status) == (1, 2, "streaming")
    assert reply.updated_at == locked.updated_at  # the conversation was bumped with them
    with write_session(engine) as session:
        assert lock_conversation(session=session, conversation_id=10_000) is None
        with pytest.raises(NotFoundError):
            add_messages(session=session, conversation_id=10_000, messages=[{"role": "user", "content": "x"}])


def test_mark_stale_streaming_as_partial(engine: Engine, conversation: Conversation) -> None:
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    with write_session(engine) as session:
        stale = add_message(
            session=session, conversation_id=conversation.id, role="assistant", content="Half a",
            status="streaming",
        )  # fmt: skip
        stale.updated_at = cutoff - timedelta(seconds=1)
        other = create_conversation(session=session, persona="support")
        fresh = add_message(
            session=session, conversation_id=other.id, role="assistant", content="Still going",
            status="streaming",
        )  # fmt: skip
        fresh.updated_at = cutoff
        done = add_message(
            session=session, conversation_id=conversation.id, role="assistant", content="Done"
        )
        done.updated_at = LONG_AGO
    _age(engine, conversation.id)

    with write_session(engine) as session:
        assert mark_stale_streaming_as_partial(session=session, older_than=cutoff) == 1
    with write_session(engine) as session:
        assert mark_stale_streaming_as_partial(session=session, older_than=cutoff) == 0

    with read_session(engine) as session:
        closed = get_message(session=session, message_id=stale.id)
        untouched = get_message(session=session, message_id=fresh.id)
        finished = get_message(session=session, message_id=done.id)
        bumped = get_conversation(session=session, conversation_id=conversation.id)
    assert (closed.status, closed.error, closed.content) == ("partial", INTERRUPTED_ERROR, "Half a")
    assert closed.updated_at > cutoff and bumped.updated_at == closed.updated_at
    assert (untouched.status, untouched.error) == ("streaming", None)
    assert (finished.status, finished.updated_at) == ("complete", LONG_AGO)


def test_sweep_marks_empty_interrupted_replies_as_errors(engine, conversation):
    from datetime import timedelta

    from chatbot.store import mark_stale_streaming_as_partial, touch_streaming_messages, utc_now

    with write_session(engine) as session:
        some = add_message(session=session, conversation_id=conversation.id, role="assistant",
                           content="half", status="streaming")
        none = add_message(session=session, conversation_id=conversation.id, role="assistant",
                           content="", status="streaming")
    with write_session(engine) as session:
        assert touch_streaming_messages(session=session, message_ids=[some.id, none.id, 999]) == 2
    with write_session(engine) as session:
        assert mark_stale_streaming_as_partial(session=session, older_than=utc_now() + timedelta(seconds=1)) == 2
    with read_session(engine) as session:
        assert get_message(session=session, message_id=some.id).status == "partial"
        assert get_message(session=session, message_id=none.id).status == "error"
    with write_session(engine) as session:  # closed replies are not kept alive
        assert touch_streaming_messages(session=session, message_ids=[some.id]) == 0


def test_a_nul_character_in_a_reply_is_saved_on_every_backend(
    engine: Engine, conversation: Conversation
) -> None:
    with write_session(engine) as session:
        message = add_message(
            session=session, conversation_id=conversation.id, role="assistant", content="a\x00b"
        )
        update_message(session=session, message_id=message.id, error="c\x00d")
    with read_session(engine) as session:
        stored = get_message(session=session, message_id=message.id)
    # PostgreSQL text cannot hold NUL: it is stored as U+FFFD there (chatbot/store/db.py).
    nul = "\x00" if engine.dialect.name == "sqlite" else "\ufffd"
    assert (stored.content, stored.error) == (f"a{nul}b", f"c{nul}d")
