"""The open conversation's title bar: persona, rename, download, delete (with confirmation).

Downloads are generated when clicked (a callable for `st.download_button`): each one is an
export in the audit log, so drawing the page must not make one.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from chatbot.auth import Actor
from chatbot.services.runtime import Runtime
from chatbot.store import Conversation

from . import state
from .case_details import case_details_popover
from .safe_markdown import safe_markdown


def _rename(runtime: Runtime, conversation_id: int) -> None:
    title = st.session_state.get(f"rename-{conversation_id}", "")
    state.attempt(
        lambda: runtime.conversations.rename(state.actor(), conversation_id, title), "Conversation renamed."
    )


def _delete(runtime: Runtime, conversation_id: int) -> None:
    actor = state.actor()

    def delete() -> bool:
        active = runtime.chat.active(actor, conversation_id)
        if active is not None:  # stopped first, so its last save does not race the delete
            active.cancel()
            active.wait(timeout=5)
        return runtime.conversations.delete(actor, conversation_id)

    if state.attempt(delete) is not None:
        state.open_conversation(None)
        state.flash("success", "Conversation deleted.")


DOWNLOADS = (
    # (label, format, extension, mime)
    ("Markdown", "md", "md", "text/markdown"),
    ("JSON", "json", "json", "application/json"),
)


def _downloads(runtime: Runtime, actor: Actor, conversation_id: int) -> None:
    st.caption("Download this conversation")
    for column, (label, fmt, ext, mime) in zip(st.columns(len(DOWNLOADS)), DOWNLOADS):
        with column:
            st.download_button(
                label,
                # Bound now: the callable runs on another thread, after this run has ended.
                data=partial(runtime.conversations.export, actor, conversation_id, fmt),
                file_name=f"conversation-{conversation_id}.{ext}",
                mime=mime,
                key=f"download-{fmt}-{conversation_id}",
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )


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
        _downloads(runtime, state.actor(), conversation.id)
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
