"""The "Summarise this conversation" action and the ticket-summary card it produces."""

from __future__ import annotations

import streamlit as st

from chatbot.services.conversations import Transcript
from chatbot.services.runtime import Runtime
from chatbot.services.summary import SummaryCard, summarisable

from . import state
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
            state.attempt(
                lambda: runtime.summaries.summarise(conversation_id, owner=state.owner())
            )
    card = runtime.summaries.card(conversation_id, transcript.messages)
    if card is not None:
        render_card(card)


def _badge(colour_icon: tuple[str, str], text: str) -> str:
    colour, icon = colour_icon
    return f":{colour}-badge[{icon} {text}]"


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
            resolved = _badge(("green", ":material/check_circle:"), "Resolved") if summary.resolved \
                else _badge(("orange", ":material/pending:"), "Not resolved")
            st.markdown(" ".join([
                _badge(("blue", ":material/category:"), summary.category.value.title()),
                _badge(SENTIMENTS.get(summary.sentiment.value, PLAIN), summary.sentiment.value.title()),
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
            count = card.newer_messages
            st.warning(
                f"Out of date: {count} message{'s' if count != 1 else ''} added since this "
                "summary. Summarise again to include them.",
                icon=":material/update:",
            )
