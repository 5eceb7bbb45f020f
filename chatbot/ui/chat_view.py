"""Rendering one stored message in the Streamlit chat idiom."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatbot.services.generation import CapacityWait, Generation
from chatbot.store import Message

from .safe_markdown import safe_markdown

AVATARS = {"user": ":material/support_agent:", "assistant": ":material/smart_toy:"}


def reply_caption(message: Message) -> str:
    """"claude-sonnet-5-5 · 120 in / 85 out tokens · first token 0.4 s · 2.1 s"."""
    parts: list[str] = []
    if message.model:
        parts.append(message.model)
    if message.input_tokens is not None or message.output_tokens is not None:
        parts.append(f"{message.input_tokens or 0:,} in / {message.output_tokens or 0:,} out tokens")
    if message.ttft_ms is not None and message.status != "error":
        parts.append(f"first token {message.ttft_ms / 1000:.1f} s")
    if message.total_ms is not None:
        parts.append(f"{message.total_ms / 1000:.1f} s")
    return " · ".join(parts)


def context_notice(dropped: int) -> None:
    st.caption(
        f":material/history: {dropped} earlier messages were left out of this request to fit "
        "the model's context budget; they are still saved in this conversation."
    )


def render_message(
    message: Message,
    *,
    can_retry: bool = False,
    on_retry: Callable[[], None] | None = None,
    orphaned: bool = False,
    footer: Callable[[], None] | None = None,
) -> None:
    """One message as a chat bubble; `footer` draws extras inside it (the rating)."""
    with st.chat_message(message.role, avatar=AVATARS.get(message.role)):
        if message.content:
            st.markdown(safe_markdown(message.content))
        if message.role != "assistant":
            return
        if message.status == "partial":
            st.warning(
                "Partial reply: " + (message.error or "the reply was cut off."),
                icon=":material/content_cut:",
            )
        elif message.status == "streaming" and orphaned:
            st.warning(
                "The reply was interrupted (the server stopped while writing it).",
                icon=":material/content_cut:",
            )
        elif message.status == "streaming":
            st.caption(
                ":material/hourglass_top: This reply is still being written by another "
                "server. Reload in a moment."
            )
        elif message.status == "error":
            st.error(message.error or "The assistant could not answer.", icon=":material/error:")
        if can_retry and (message.status in ("partial", "error") or orphaned):
            st.button(
                "Retry", key=f"retry-{message.id}", icon=":material/refresh:", on_click=on_retry
            )
        if message.context_dropped:
            context_notice(message.context_dropped)
        caption = reply_caption(message)
        if caption:
            st.caption(caption)
        if footer is not None:
            footer()


def live_reply(generation: Generation) -> None:
    """Stream a reply in progress; while it queues behind the rate limit, say so (with the
    expected wait) instead of showing a reply that looks stuck."""
    notice = st.empty()

    def pieces():
        shown = False
        for update in generation.updates():
            if isinstance(update, CapacityWait):
                seconds = max(1, round(update.seconds_left()))
                notice.info(
                    f"Waiting for capacity… about {seconds} s. The assistant is at its request "
                    "limit; your message is saved and goes out automatically.",
                    icon=":material/hourglass_top:",
                )
                shown = True
                continue
            if shown:
                notice.empty()
                shown = False
            yield update

    st.write_stream(pieces())
