"""The open conversation's title bar: persona, rename, delete (with confirmation)."""

from __future__ import annotations

import streamlit as st

from chatbot.services.runtime import Runtime
from chatbot.store import Conversation

from . import state
from .case_details import case_details_popover
from .safe_markdown import safe_markdown


def _rename(runtime: Runtime, conversation_id: int) -> None:
    title = st.session_state.get(f"rename-{conversation_id}", "")
    state.attempt(lambda: runtime.conversations.rename(conversation_id, title), "Conversation renamed.")


def _delete(runtime: Runtime, conversation_id: int) -> None:
    active = runtime.chat.active(conversation_id)
    if active is not None:
        active.cancel()
        active.wait(timeout=5)
    runtime.conversations.delete(conversation_id)
    state.open_conversation(None)
    state.flash("success", "Conversation deleted.")


def conversation_header(runtime: Runtime, conversation: Conversation, *, busy: bool) -> None:
    persona = runtime.conversations.persona_of(conversation)
    title_column, details_column, menu_column = st.columns(
        [0.6, 0.2, 0.2], vertical_alignment="bottom"
    )
    title_column.subheader(safe_markdown(conversation.title), anchor=False)
    title_column.caption(
        f"{safe_markdown(persona.spec.name)} · version {persona.number} · "
        f"started {conversation.created_at:%Y-%m-%d %H:%M} UTC"
    )
    with details_column:
        case_details_popover(runtime, conversation, persona.spec)
    with menu_column.popover("Manage", icon=":material/more_horiz:", width="stretch"):
        st.text_input(
            "Title", value=conversation.title, key=f"rename-{conversation.id}", max_chars=200
        )
        st.button(
            "Rename",
            key=f"rename-button-{conversation.id}",
            icon=":material/edit:",
            on_click=_rename,
            args=(runtime, conversation.id),
        )
        st.divider()
        confirm = st.checkbox(
            "Yes, delete this conversation and all its messages",
            key=f"confirm-delete-{conversation.id}",
        )
        st.button(
            "Delete conversation",
            key=f"delete-{conversation.id}",
            icon=":material/delete:",
            type="primary",
            disabled=not confirm,
            on_click=_delete,
            args=(runtime, conversation.id),
            help="Stops a reply in progress first." if busy else None,
        )
