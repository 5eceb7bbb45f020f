"""Thumbs up or down on a reply, with an optional comment, as agents rate in the chat page.

The rating is saved the moment it is clicked (QA filter conversations by it); the comment
is one click further, in a popover, so rating stays a single click.
"""

from __future__ import annotations

import streamlit as st

from chatbot.services.qa_views import FeedbackView
from chatbot.services.runtime import Runtime
from chatbot.store import Message

from . import state
from .safe_markdown import safe_markdown

MAX_COMMENT = 2_000


def _rating(widget_value: int | None) -> int | None:
    # st.feedback("thumbs") gives 1 for up, 0 for down, None when cleared.
    return None if widget_value is None else (1 if widget_value == 1 else -1)


def _on_rate(runtime: Runtime, message_id: int, key: str, comment: str | None) -> None:
    # A callback reads the widget from session_state: its value at click time, not render time.
    rating = _rating(st.session_state.get(key))
    state.attempt(lambda: runtime.qa.rate(state.actor(), message_id, rating, comment))


def reply_feedback(runtime: Runtime, message: Message, current: FeedbackView | None) -> None:
    key = f"feedback-{message.id}"
    comment = current.comment if current is not None else None
    columns = st.columns([1, 5], vertical_alignment="center")
    with columns[0]:
        st.feedback(
            "thumbs",
            key=key,
            default=None if current is None else (1 if current.rating > 0 else 0),
            on_change=_on_rate,
            args=(runtime, message.id, key, comment),
        )
    if current is None:
        return
    with columns[1]:
        label = "Edit comment" if comment else "Add a comment"
        with st.popover(label, icon=":material/comment:"):
            text = st.text_area(
                "What was good or wrong about this reply?",
                value=comment or "",
                max_chars=MAX_COMMENT,
                key=f"feedback-comment-{message.id}",
            )
            if st.button("Save comment", key=f"feedback-save-{message.id}"):
                state.attempt(
                    lambda: runtime.qa.rate(state.actor(), message.id, current.rating, text)
                )
                st.rerun()
        if comment:
            st.caption(f"Your comment: {safe_markdown(comment)}")
