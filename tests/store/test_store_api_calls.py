"""API-call records: defaults, validation, listing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from chatbot.store import (
    PLACEHOLDER_USERNAME,
    ApiCallOutcome,
    Conversation,
    list_api_calls,
    read_session,
    record_api_call,
    write_session,
)


def test_record_api_call_defaults(engine: Engine) -> None:
    with write_session(engine) as session:
        call = record_api_call(
            session=session, model="claude-x", outcome="error", status_code=529,
            error_type="overloaded_error", input_tokens=None,
        )  # fmt: skip
    with read_session(engine) as session:
        [loaded] = list_api_calls(session=session)
    assert loaded.id == call.id
    assert (loaded.owner, loaded.purpose, loaded.outcome) == (PLACEHOLDER_USERNAME, "chat", ApiCallOutcome.ERROR)
    assert (loaded.status_code, loaded.error_type) == (529, "overloaded_error")
    assert (loaded.input_tokens, loaded.output_tokens) == (0, 0)
    assert (loaded.cache_creation_input_tokens, loaded.cache_read_input_tokens) == (0, 0)
    assert (loaded.attempts, loaded.cache_hit, loaded.cost_usd) == (1, False, None)
    assert loaded.conversation_id is None and loaded.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"model": "m"}, TypeError),
        ({"outcome": "ok"}, TypeError),
        ({"model": "m", "outcome": "fine"}, ValueError),
        ({"model": "m", "outcome": "ok", "tokens": 3}, TypeError),
        ({"model": "m", "outcome": "ok", "id": 3}, TypeError),
    ],
)
def test_record_api_call_validates(engine: Engine, fields, error) -> None:
    with pytest.raises(error):
        with write_session(engine) as session:
            record_api_call(session=session, **fields)


def test_list_api_calls_newest_first_and_by_conversation(
    engine: Engine, conversation: Conversation
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with write_session(engine) as session:
        for i, conversation_id in enumerate([conversation.id, None, conversation.id]):
            record_api_call(
                session=session, conversation_id=conversation_id, model=f"m{i}", outcome="ok",
                created_at=start + timedelta(seconds=i), cost_usd=0.25, cache_hit=bool(i),
            )  # fmt: skip
    with read_session(engine) as session:
        everything = list_api_calls(session=session)
        mine = list_api_calls(session=session, conversation_id=conversation.id)
        newest = list_api_calls(session=session, limit=1)
    assert [c.model for c in everything] == ["m2", "m1", "m0"]
    assert [c.model for c in mine] == ["m2", "m0"]
    assert [c.model for c in newest] == ["m2"]
    assert everything[0].cost_usd == 0.25 and everything[0].cache_hit
