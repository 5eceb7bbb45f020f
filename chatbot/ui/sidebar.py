"""The sidebar: sandbox notice, new conversation, search, and the list of conversations."""

from __future__ import annotations

import streamlit as st

from chatbot.services.conversations import group_by_recency
from chatbot.services.runtime import Runtime
from chatbot.store import utc_now

from . import state
from .safe_markdown import safe_markdown


def _open(conversation_id: int | None) -> None:
    state.open_conversation(conversation_id)


def conversation_sidebar(runtime: Runtime, current: int | None) -> None:
    with st.sidebar:
        if runtime.sandbox_mode:
            st.info(
                "**Sandbox mode.** No `ANTHROPIC_API_KEY` is set, so replies come from the "
                "built-in sandbox, not from Claude. Set the key and restart to go live.",
                icon=":material/science:",
            )
        st.button(
            "New conversation",
            icon=":material/add_comment:",
            width="stretch",
            on_click=_open,
            args=(None,),
            key="new-conversation",
        )
        query = st.text_input(
            "Search conversations",
            placeholder="Search titles…",
            key="conversation-search",
            label_visibility="collapsed",
        )
        conversations = runtime.conversations.list(state.actor(), search=query)
        if not conversations:
            st.caption("No conversation matches." if query else "No conversations yet.")
        for label, section in group_by_recency(conversations, utc_now()):
            st.caption(label)
            for conversation in section:
                st.button(
                    safe_markdown(conversation.title),
                    key=f"open-{conversation.id}",
                    type="primary" if conversation.id == current else "tertiary",
                    help=f"Updated {conversation.updated_at:%Y-%m-%d %H:%M} UTC",
                    width="stretch",
                    on_click=_open,
                    args=(conversation.id,),
                )
