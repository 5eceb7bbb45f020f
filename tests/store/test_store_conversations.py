"""Conversations: defaults, listing and search, titles, archive, delete."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from chatbot.store import (
    PLACEHOLDER_USERNAME,
    DEFAULT_TITLE,
    Conversation,
    NotFoundError,
    add_message,
    archive_conversation,
    auto_title,
    create_conversation,
    delete_conversation,
    get_conversation,
    get_message,
    list_api_calls,
    list_conversations,
    read_session,
    record_api_call,
    rename_conversation,
    set_auto_title,
    write_session,
)


def _make(engine: Engine, *titles: str, owner: str = "agent") -> list[Conversation]:
    """Conversations with the given titles, each more recently updated than the last."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = []
    with write_session(engine) as session:
        for i, title in enumerate(titles):
            conversation = create_conversation(session=session, persona="support", owner=owner)
            conversation.title = title
            conversation.updated_at = start + timedelta(minutes=i)
            made.append(conversation)
    return made


def _titles(engine: Engine, **kwargs) -> list[str]:
    with read_session(engine) as session:
        return [c.title for c in list_conversations(session=session, **kwargs)]


def test_create_conversation_defaults(engine: Engine) -> None:
    with write_session(engine) as session:
        conversation = create_conversation(
            session=session, persona="support", persona_vars={"customer_name": "Ada"}
        )
    with read_session(engine) as session:
        loaded = get_conversation(session=session, conversation_id=conversation.id)
    assert loaded.title == DEFAULT_TITLE and not loaded.title_locked
    assert loaded.persona_vars == {"customer_name": "Ada"}
    assert loaded.owner == PLACEHOLDER_USERNAME and not loaded.archived and loaded.persona_version is None
    assert loaded.created_at == loaded.updated_at
    assert loaded.created_at.tzinfo is UTC


def test_persona_vars_changes_in_place_are_saved(engine: Engine) -> None:
    with write_session(engine) as session:
        conversation = create_conversation(session=session, persona="support")
    with write_session(engine) as session:
        loaded = get_conversation(session=session, conversation_id=conversation.id)
        loaded.persona_vars["order_id"] = "A-17"
    with read_session(engine) as session:
        loaded = get_conversation(session=session, conversation_id=conversation.id)
    assert loaded.persona_vars == {"order_id": "A-17"}


def test_create_conversation_with_a_title_locks_it(engine: Engine) -> None:
    with write_session(engine) as session:
        conversation = create_conversation(session=session, persona="qa", title="  Replay  ")
        set_auto_title(session=session, conversation_id=conversation.id, first_message="Hi")
    assert conversation.title == "Replay" and conversation.title_locked


def test_get_conversation_missing_is_none(engine: Engine) -> None:
    with read_session(engine) as session:
        assert get_conversation(session=session, conversation_id=999) is None


def test_list_conversations_newest_first_by_owner_and_limit(engine: Engine) -> None:
    _make(engine, "a1", "a2", owner="alice")
    _make(engine, "b1", owner="bob")
    assert _titles(engine) == ["a2", "b1", "a1"]  # b1 ties with a1; the newer id wins
    assert _titles(engine, owner="alice") == ["a2", "a1"]
    assert _titles(engine, owner="nobody") == []
    assert _titles(engine, limit=1) == ["a2"]


def test_list_conversations_hides_archived_unless_asked(engine: Engine) -> None:
    kept, hidden = _make(engine, "kept", "hidden")
    with write_session(engine) as session:
        archived = archive_conversation(session=session, conversation_id=hidden.id)
    assert archived.archived
    assert _titles(engine) == ["kept"]
    assert _titles(engine, include_archived=True) == ["hidden", "kept"]
    with write_session(engine) as session:
        archive_conversation(session=session, conversation_id=hidden.id, archived=False)
    assert _titles(engine) == ["hidden", "kept"]


def test_search_is_a_case_insensitive_substring(engine: Engine) -> None:
    _make(engine, "Refund for ORDER 17", "Shipping delay", "order status")
    assert _titles(engine, search="order") == ["order status", "Refund for ORDER 17"]
    assert _titles(engine, search="  DELAY ") == ["Shipping delay"]
    assert _titles(engine, search="") == ["order status", "Shipping delay", "Refund for ORDER 17"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("50%", ["50% discount"]),
        ("%", ["50% discount"]),
        ("order_id", ["order_id missing"]),
        ("_", ["order_id missing"]),
        ("a\\b", ["path a\\b"]),
    ],
)
def test_search_treats_like_wildcards_literally(engine: Engine, search, expected) -> None:
    _make(engine, "50% discount", "500 discount", "order_id missing", "orderXid", "path a\\b")
    assert _titles(engine, search=search) == expected


def test_rename_cleans_and_locks_the_title(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        renamed = rename_conversation(
            session=session, conversation_id=conversation.id, title="  Late\n  delivery  "
        )
    assert renamed.title == "Late delivery" and renamed.title_locked


@pytest.mark.parametrize("title", ["", "   ", "\n\t", "x" * 201])
def test_rename_refuses_bad_titles(engine: Engine, conversation: Conversation, title) -> None:
    with pytest.raises(ValueError):
        with write_session(engine) as session:
            rename_conversation(session=session, conversation_id=conversation.id, title=title)
    assert _titles(engine) == [DEFAULT_TITLE]


def test_rename_accepts_200_characters(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        rename_conversation(session=session, conversation_id=conversation.id, title="x" * 200)
    assert _titles(engine) == ["x" * 200]


def test_rename_missing_conversation(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        with write_session(engine) as session:
            rename_conversation(session=session, conversation_id=999, title="x")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Where is my order?", "Where is my order?"),
        ("\n\n  Refund   please \t now\nsecond line", "Refund please now"),
        ("x" * 60, "x" * 60),
        (
            "My package arrived damaged and the box was open when the courier left it",
            "My package arrived damaged and the box was open when the…",
        ),
        ("https://example.com/" + "a" * 80, "https://example.com/" + "a" * 39 + "…"),
        ("", ""),
        (" \n ", ""),
    ],
)
def test_auto_title_rules(text: str, title: str) -> None:
    assert auto_title(text) == title
    assert len(auto_title(text)) <= 60


def test_set_auto_title(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        titled = set_auto_title(
            session=session, conversation_id=conversation.id, first_message="Order 17 is late"
        )
    assert titled.title == "Order 17 is late" and not titled.title_locked


def test_set_auto_title_ignores_blank_messages(engine: Engine, conversation: Conversation) -> None:
    with write_session(engine) as session:
        set_auto_title(session=session, conversation_id=conversation.id, first_message="  ")
    assert _titles(engine) == [DEFAULT_TITLE]


def test_set_auto_title_never_overwrites_a_rename(
    engine: Engine, conversation: Conversation
) -> None:
    with write_session(engine) as session:
        rename_conversation(session=session, conversation_id=conversation.id, title="VIP case")
        set_auto_title(
            session=session, conversation_id=conversation.id, first_message="Order 17 is late"
        )
    assert _titles(engine) == ["VIP case"]


def test_delete_cascades_to_messages_and_unlinks_api_calls(
    engine: Engine, conversation: Conversation
) -> None:
    with write_session(engine) as session:
        other = create_conversation(session=session, persona="support")
        message = add_message(
            session=session, conversation_id=conversation.id, role="user", content="hi"
        )
        kept = add_message(session=session, conversation_id=other.id, role="user", content="yo")
        record_api_call(
            session=session,
            conversation_id=conversation.id,
            message_id=message.id,
            model="claude-x",
            outcome="ok",
            input_tokens=12,
        )
    with write_session(engine) as session:
        assert delete_conversation(session=session, conversation_id=conversation.id)
    with write_session(engine) as session:
        assert not delete_conversation(session=session, conversation_id=conversation.id)

    with read_session(engine) as session:
        assert get_conversation(session=session, conversation_id=conversation.id) is None
        assert get_message(session=session, message_id=message.id) is None
        assert get_message(session=session, message_id=kept.id) is not None
        [call] = list_api_calls(session=session)
    assert call.conversation_id is None and call.message_id is None
    assert call.input_tokens == 12  # the accounting survives
