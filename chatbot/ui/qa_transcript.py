"""A conversation read-only, for QA: who, which persona version and system prompt, and
for every reply what the API call recorded (model, tokens, cost, latencies, stop reason,
request id, errors), the agent's rating, and QA's notes and tags.

Nothing here edits the conversation; only annotations and the golden flag change.
"""

from __future__ import annotations

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.services.exports import Exports
from chatbot.services.qa import QAService
from chatbot.services.qa_views import MessageView, TranscriptView

from . import qa_state, state
from .chat_view import AVATARS
from .qa_annotations import annotations, summary, tag_row
from .qa_export import export_one, replay_button
from .qa_text import count, one_line, plain, span, when
from .safe_markdown import safe_markdown
from .usage_panels import money, seconds

STATUS_TEXT = {
    "partial": "Partial reply",
    "error": "Failed reply",
    "streaming": "Still being written (or interrupted)",
}


def _set_golden(qa: QAService, conversation_id: int, field: str) -> None:
    golden = bool(st.session_state.get(field))
    state.attempt(
        lambda: qa.set_golden(state.actor(), conversation_id, golden),
        success="Added to the golden set." if golden else "Removed from the golden set.",
    )


def transcript_panel(qa: QAService, exports: Exports, conversation_id: int) -> None:
    try:
        view = qa.transcript(state.actor(), conversation_id)
    except ChatbotError as error:
        st.warning(error.user_message, icon=":material/info:")
        st.button("Close", key="qa-close-missing", icon=":material/close:",
                  on_click=qa_state.open_conversation, args=(None,))
        return
    _header(qa, exports, view)
    _system_prompt(view)
    _conversation_notes(qa, view)
    if not view.messages:
        st.caption("This conversation has no messages.")
    for message in view.messages:
        _message(qa, view.id, message)


def _header(qa: QAService, exports: Exports, view: TranscriptView) -> None:
    title_col, close_col = st.columns([10, 1], vertical_alignment="top")
    title_col.subheader(one_line(view.title) or "Untitled", anchor=False)
    close_col.button("", key="qa-close", icon=":material/close:", type="tertiary",
                     help="Close the transcript", on_click=qa_state.open_conversation, args=(None,))
    version = f" v{view.persona_version}" if view.persona_version is not None else " (no version pinned)"
    replies = [m for m in view.messages if m.role == "assistant"]
    facts = [
        f"#{view.id}",
        f"persona **{one_line(view.persona)}{version}**",
        f"agent **{one_line(view.owner)}**",
        span(view.created_at, view.updated_at),
        count(len(view.messages), "message"),
        f"cost {money(view.cost_usd)}" if replies else "no replies",
    ]
    if view.archived:
        facts.append("archived")
    st.caption(" · ".join(facts))

    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        golden_field = f"qa-golden-{view.id}-{view.golden is not None}"
        st.toggle(
            "Golden case",
            value=view.golden is not None,
            key=golden_field,
            on_change=_set_golden,
            args=(qa, view.id, golden_field),
            help="Keep this conversation as a regression case for replays and checks.",
        )
        export_one(exports, view.id)
        replay_button(lambda: [view.id], key=f"qa-replay-{view.id}")
    if view.golden is not None:
        note = f": {plain(view.golden.note)}" if view.golden.note else ""
        st.caption(
            f":material/star: Golden since {when(view.golden.added_at)} UTC, "
            f"added by {one_line(view.golden.added_by)}{note}"
        )


def _system_prompt(view: TranscriptView) -> None:
    label = "System prompt" + (
        f" · {one_line(view.persona)} v{view.persona_version}" if view.persona_version is not None else ""
    )
    with st.expander(label, icon=":material/description:"):
        if view.persona_vars:
            details = " · ".join(
                f"{one_line(name)}: **{one_line(value)}**"
                for name, value in sorted(view.persona_vars.items())
            )
            st.caption(f"Case details: {details}")
        if view.system_prompt is not None:
            st.code(view.system_prompt, language=None, wrap_lines=True)
        else:
            st.info(view.persona_problem or "The system prompt cannot be shown.", icon=":material/info:")


def _conversation_notes(qa: QAService, view: TranscriptView) -> None:
    tag_row(qa, view.id, view.tags, message_id=None)
    label = "Notes and tags on the conversation"
    counted = summary(view.notes, view.tags)
    with st.expander(f"{label} ({counted})" if counted else label, icon=":material/sticky_note_2:",
                     expanded=bool(view.notes)):
        annotations(qa, view.id, view.notes, message_id=None)


def _message(qa: QAService, conversation_id: int, m: MessageView) -> None:
    with st.chat_message(m.role, avatar=AVATARS.get(m.role)):
        if m.content:
            st.markdown(safe_markdown(m.content))
        else:
            st.caption("(no text)")
        if m.role == "assistant":
            _reply_status(m)
            st.caption(reply_facts(m))
            _feedback(m)
        elif m.notes or m.tags:
            st.caption(f"{when(m.created_at)} UTC")
        if m.role == "assistant" or m.notes or m.tags:
            tag_row(qa, conversation_id, m.tags, message_id=m.id)
            label = "Details, notes and tags"
            counted = summary(m.notes, m.tags)
            with st.expander(f"{label} ({counted})" if counted else label, expanded=bool(m.notes)):
                if m.role == "assistant":
                    _details(m)
                annotations(qa, conversation_id, m.notes, message_id=m.id)


def _reply_status(m: MessageView) -> None:
    if m.status == "complete":
        return
    text = STATUS_TEXT.get(m.status, m.status)
    detail = f": {plain(m.error)}" if m.error else ""
    if m.status == "error":
        st.error(f"{text}{detail}", icon=":material/error:")
    else:
        st.warning(f"{text}{detail}", icon=":material/content_cut:")


def reply_facts(m: MessageView) -> str:
    """"claude-sonnet-5-5 · 120 in / 30 out tokens · $0.0021 · first token 0.21 s · 0.90 s ·
    end_turn": what matters at a glance; the rest is under Details."""
    parts = [one_line(m.model) if m.model else "no model recorded"]
    if m.input_tokens is not None or m.output_tokens is not None:
        parts.append(f"{m.input_tokens or 0:,} in / {m.output_tokens or 0:,} out tokens")
    cache = (m.cache_creation_input_tokens or 0, m.cache_read_input_tokens or 0)
    if any(cache):
        parts.append(f"cache {cache[0]:,} written / {cache[1]:,} read")
    parts.append(money(m.cost_usd))
    if m.ttft_ms is not None:
        parts.append(f"first token {seconds(m.ttft_ms)}")
    if m.total_ms is not None:
        parts.append(f"total {seconds(m.total_ms)}")
    if m.stop_reason:
        parts.append(f"stop {one_line(m.stop_reason)}")
    return " · ".join(parts)


def _feedback(m: MessageView) -> None:
    for f in m.feedback:
        icon = ":material/thumb_up:" if f.rating > 0 else ":material/thumb_down:"
        comment = f": “{one_line(f.comment)}”" if f.comment else ""
        st.caption(f"{icon} {one_line(f.owner)}{comment} · {when(f.updated_at)} UTC")


def _details(m: MessageView) -> None:
    """Every recorded field, a few to a line."""

    def show(value: object) -> str:
        return "—" if value is None else plain(str(value))

    cache = f"cache {show(m.cache_creation_input_tokens)} written / {show(m.cache_read_input_tokens)} read"
    lines = [
        f"**Status**: {show(m.status)} · **Stop reason**: {show(m.stop_reason)}",
        f"**Model**: {show(m.model)} · **Cost**: {plain(money(m.cost_usd))}",
        f"**Tokens**: {show(m.input_tokens)} in / {show(m.output_tokens)} out · {cache}",
        f"**Latency**: first token {plain(seconds(m.ttft_ms))} · total {plain(seconds(m.total_ms))}",
        f"**Request id**: {show(m.request_id)} · **Message id**: {m.id}",
        f"**Started**: {plain(when(m.created_at))} UTC · **Saved**: {plain(when(m.updated_at))} UTC",
    ]
    if m.context_dropped:
        lines.append(f"**Earlier messages left out of the request**: {m.context_dropped}")
    if m.error:
        lines.append(f"**Error**: {plain(m.error)}")
    st.markdown("  \n".join(lines))
