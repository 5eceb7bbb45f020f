"""Notes and tags on a conversation or on one reply: list them, remove them, add one.

The only things a QA reader changes on a transcript (with the golden flag); every click
goes through `state.attempt`, so a refused note or tag comes back as a message.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from chatbot.services.qa import QAService
from chatbot.services.qa_views import AnnotationView

from . import state
from .qa_text import count, plain, when


def _add(qa: QAService, conversation_id: int, message_id: int | None, kind: str, field: str) -> None:
    text = st.session_state.get(field) or ""
    where = "this reply" if message_id is not None else "the conversation"
    if kind == "tag":
        state.attempt(
            lambda: qa.tag(state.actor(), conversation_id, text, message_id=message_id),
            success=f"Tag added to {where}.",
        )
    else:
        state.attempt(
            lambda: qa.note(state.actor(), conversation_id, text, message_id=message_id),
            success=f"Note added to {where}.",
        )


def _untag(qa: QAService, conversation_id: int, tag: str, message_id: int | None) -> None:
    state.attempt(lambda: qa.untag(state.actor(), conversation_id, tag, message_id=message_id))


def _remove(qa: QAService, annotation_id: int) -> None:
    state.attempt(lambda: qa.remove_annotation(state.actor(), annotation_id))


def tag_row(
    qa: QAService, conversation_id: int, tags: Sequence[AnnotationView], *, message_id: int | None
) -> None:
    """The tags as small buttons; clicking one removes it."""
    if not tags:
        return
    with st.container(horizontal=True, gap="small"):
        for tag in tags:
            st.button(
                plain(tag.text),
                key=f"qa-untag-{tag.id}",
                icon=":material/close:",
                type="secondary",
                help=f"Tagged by {tag.created_by}, {when(tag.created_at)} UTC. Click to remove the tag.",
                on_click=_untag,
                args=(qa, conversation_id, tag.text, message_id),
            )


def note_list(qa: QAService, notes: Sequence[AnnotationView]) -> None:
    for note in notes:
        text_col, remove_col = st.columns([12, 1], vertical_alignment="top")
        with text_col:
            st.markdown(plain(note.text))
            st.caption(f"{plain(note.created_by)} · {when(note.created_at)} UTC")
        remove_col.button(
            "",
            key=f"qa-unnote-{note.id}",
            icon=":material/delete:",
            type="tertiary",
            help="Remove this note",
            on_click=_remove,
            args=(qa, note.id),
        )


def add_form(qa: QAService, conversation_id: int, *, message_id: int | None) -> None:
    """One box, two buttons: a short word becomes a tag, anything longer a note."""
    target = f"m{message_id}" if message_id is not None else f"c{conversation_id}"
    field = f"qa-annotation-{target}"
    with st.form(f"qa-annotate-{target}", clear_on_submit=True, border=False):
        st.text_area(
            "Add a note or a tag",
            key=field,
            height=68,
            placeholder="A note for the team, or a tag such as refund-policy",
            label_visibility="collapsed",
        )
        with st.container(horizontal=True, gap="small"):
            st.form_submit_button(
                "Add note",
                key=f"qa-add-note-{target}",
                icon=":material/sticky_note_2:",
                on_click=_add,
                args=(qa, conversation_id, message_id, "note", field),
            )
            st.form_submit_button(
                "Add tag",
                key=f"qa-add-tag-{target}",
                icon=":material/sell:",
                on_click=_add,
                args=(qa, conversation_id, message_id, "tag", field),
            )


def annotations(
    qa: QAService, conversation_id: int, notes: Sequence[AnnotationView], *, message_id: int | None = None
) -> None:
    """Notes and the form to add a note or a tag, for the conversation or one reply (its
    tags are drawn above, with `tag_row`, so they show without opening anything)."""
    note_list(qa, notes)
    add_form(qa, conversation_id, message_id=message_id)


def summary(notes: Sequence[AnnotationView], tags: Sequence[AnnotationView]) -> str:
    """"2 notes · 1 tag" for an expander label; empty when there is none."""
    return " · ".join(count(len(found), word) for found, word in ((notes, "note"), (tags, "tag")) if found)
