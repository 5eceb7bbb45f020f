"""The sidebar's conversation list, search, and the header's rename and delete."""

from __future__ import annotations

import pytest
from streamlit.testing.v1.errors import AppTestError
from ui_helpers import conversation_id, send, transcript


def conversation_buttons(at) -> list[tuple[int, str]]:
    return [
        (int(b.key.removeprefix("open-")), b.label)
        for b in at.sidebar.button
        if b.key and b.key.startswith("open-")
    ]


def two_conversations(new_app):
    at = new_app()
    send(at, "I need a refund for order 1042")
    first = conversation_id(at)
    at.sidebar.button(key="new-conversation").click().run()
    assert "c" not in at.query_params
    assert at.title[0].value  # the greeting page again
    send(at, "Where is order #2001? It was due yesterday.")
    second = conversation_id(at)
    assert second != first
    return at, first, second


def test_list_is_newest_first_titled_from_the_first_message_and_switches(new_app):
    at, first, second = two_conversations(new_app)

    assert conversation_buttons(at) == [
        (second, "Where is order #2001? It was due yesterday."),
        (first, "I need a refund for order 1042"),
    ]
    assert at.sidebar.button(key=f"open-{second}").proto.type == "primary"  # the open one
    assert at.sidebar.button(key=f"open-{first}").proto.type == "tertiary"

    at.sidebar.button(key=f"open-{first}").click().run()

    assert conversation_id(at) == first
    assert transcript(at)[0] == ("user", "I need a refund for order 1042")
    assert len(transcript(at)) == 2
    assert at.subheader[0].value == "I need a refund for order 1042"

    # A new turn in the older conversation moves it to the top.
    send(at, "It arrived broken.")
    assert [cid for cid, _ in conversation_buttons(at)] == [first, second]


def test_search_filters_by_title(new_app):
    at, first, second = two_conversations(new_app)

    at.sidebar.text_input(key="conversation-search").input("refund").run()
    assert conversation_buttons(at) == [(first, "I need a refund for order 1042")]

    at.sidebar.text_input(key="conversation-search").input("no such thing").run()
    assert conversation_buttons(at) == []
    assert "No conversation matches." in [c.value for c in at.sidebar.caption]

    at.sidebar.text_input(key="conversation-search").input("").run()
    assert [cid for cid, _ in conversation_buttons(at)] == [second, first]


def test_rename_from_the_header(new_app, db):
    at, first, second = two_conversations(new_app)

    at.text_input(key=f"rename-{second}").input("Late parcel, Mrs Jones").run()
    at.button(key=f"rename-button-{second}").click().run()

    assert not at.exception
    assert at.success[0].value == "Conversation renamed."
    assert at.subheader[0].value == "Late parcel, Mrs Jones"
    assert conversation_buttons(at)[0] == (second, "Late parcel, Mrs Jones")
    assert db("SELECT title FROM conversation WHERE id = ?", second) == [("Late parcel, Mrs Jones",)]

    # A blank title is refused with a message, and the old title stays.
    at.text_input(key=f"rename-{second}").input("   ").run()
    at.button(key=f"rename-button-{second}").click().run()
    assert at.error, "a blank title should be refused"
    assert db("SELECT title FROM conversation WHERE id = ?", second) == [("Late parcel, Mrs Jones",)]


def test_delete_needs_confirmation_and_removes_everything(new_app, db):
    at, first, second = two_conversations(new_app)
    delete = at.button(key=f"delete-{second}")
    assert delete.disabled

    with pytest.raises(AppTestError, match="disabled"):
        delete.click()
    assert db("SELECT count(*) FROM conversation WHERE id = ?", second) == [(1,)]

    at.checkbox(key=f"confirm-delete-{second}").check().run()
    assert not at.button(key=f"delete-{second}").disabled
    at.button(key=f"delete-{second}").click().run()

    assert not at.exception
    assert at.success[0].value == "Conversation deleted."
    assert "c" not in at.query_params
    assert conversation_buttons(at) == [(first, "I need a refund for order 1042")]
    assert db("SELECT count(*) FROM conversation WHERE id = ?", second) == [(0,)]
    assert db("SELECT count(*) FROM message WHERE conversation_id = ?", second) == [(0,)]
    assert db("SELECT count(*) FROM message WHERE conversation_id = ?", first) == [(2,)]
