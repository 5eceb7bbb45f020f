"""The "Summarise this conversation" action and the ticket-summary card it produces."""

from __future__ import annotations

import streamlit as st

from chatbot.services.conversations import Transcript
from chatbot.services.runtime import Runtime
from chatbot.services.summary import SummaryCard, summarisable

from . import state
from .qa_text import badge, count
from .safe_markdown import safe_markdown

# (badge colour, icon) per value; an unknown value (a newer schema) gets the plain look.
SENTIMENTS = {
    "positive": ("green", ":material/sentiment_satisfied:"),
    "neutral": ("gray", ":material/sentiment_neutral:"),
    "negative": ("orange", ":material/sentiment_dissatisfied:"),
    "frustrated": ("red", ":material/sentiment_very_dissatisfied:"),
}
PLAIN = ("gray", ":material/label:")


def summary_panel(runtime: Runtime, transcript: Transcript, *, busy: bool) -> None:
    """The Summarise button, then the newest summary's card (if there is one)."""
    conversation_id = transcript.conversation.id
    ready = bool(summarisable(transcript.messages))
    clicked = st.button(
        "Summarise this conversation",
        key=f"summarise-{conversation_id}",
        icon=":material/summarize:",
        disabled=busy or not ready,
        help="Wait for the reply to finish first." if busy else (
            None if ready else "Send a message first: there is nothing to summarise yet."
        ),
    )
    if clicked:
        # Synchronous on purpose: one short call. A failure becomes an error flash that
        # says what to do, shown further down this same run.
        with st.spinner("Summarising the conversation…"):
            state.attempt(lambda: runtime.summaries.summarise(state.actor(), conversation_id))
    card = runtime.summaries.card(state.actor(), conversation_id, transcript.messages)
    if card is not None:
        render_card(card)


def render_card(card: SummaryCard) -> None:
    row, summary = card.row, card.summary
    with st.container(border=True, key=f"summary-card-{row.id}"):
        st.markdown("**:material/summarize: Ticket summary**")
        if summary is None:
            st.warning(
                "This summary was saved in an older format and cannot be shown. "
                "Summarise the conversation again.",
                icon=":material/warning:",
            )
        else:
            st.markdown(safe_markdown(summary.issue))
            resolved = badge("Resolved", "green", ":material/check_circle:") if summary.resolved \
                else badge("Not resolved", "orange", ":material/pending:")
            st.markdown(" ".join([
                badge(summary.category.value.title(), "blue", ":material/category:"),
                badge(summary.sentiment.value.title(), *SENTIMENTS.get(summary.sentiment.value, PLAIN)),
                resolved,
            ]))
            if summary.next_steps:
                steps = "\n".join(f"- {safe_markdown(step)}" for step in summary.next_steps)
                st.markdown(f"**Next steps**\n\n{steps}")
            else:
                st.caption("No next steps.")
        st.caption(safe_markdown(
            f"{row.model} · {row.created_at:%Y-%m-%d %H:%M} UTC · by {row.created_by}"
        ))
        if card.out_of_date:
            st.warning(
                f"Out of date: {count(card.newer_messages, 'message')} added since this "
                "summary. Summarise again to include them.",
                icon=":material/update:",
            )
