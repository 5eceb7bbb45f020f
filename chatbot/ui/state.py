"""Typed access to what a browser session remembers.

The open conversation lives in the URL (`?c=42`), not only in session state, so a reload
or a shared link reopens it. Session state holds only small UI facts; never the key, the
client or anything secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from chatbot.auth import Actor
from chatbot.errors import ChatbotError

from .gate import current_actor

T = TypeVar("T")

_CONVERSATION = "c"
_FLASH = "flash"
_DRAFT = "draft"
_PENDING = "pending_prompt"


def query_id(name: str) -> int | None:
    """An id kept in the URL (so a reload or a shared link reopens it); junk reads as None."""
    raw = st.query_params.get(name)
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def set_query_id(name: str, value: int | None) -> None:
    if value is None:
        st.query_params.pop(name, None)
    else:
        st.query_params[name] = str(value)


def conversation_id() -> int | None:
    return query_id(_CONVERSATION)


def open_conversation(conversation_id: int | None) -> None:
    set_query_id(_CONVERSATION, conversation_id)


def actor() -> Actor:
    """The signed-in person this run acts for (set by the sign-in gate)."""
    return current_actor()


def flash(kind: str, message: str) -> None:
    """A message to show on the next run (after an st.rerun)."""
    st.session_state[_FLASH] = (kind, message)


def attempt(action: Callable[[], T], success: str | None = None) -> T | None:
    """Run an action a click asked for: its `ChatbotError` becomes an error flash (the
    message says what to do), success an optional success flash. Returns its result."""
    try:
        result = action()
    except ChatbotError as error:
        flash("error", error.user_message)
        return None
    if success:
        flash("success", success)
    return result


def take_flash() -> tuple[str, str] | None:
    return st.session_state.pop(_FLASH, None)


def show_flash() -> None:
    """Draw the flash left by the last run, if any (`st.success`, `st.error`...), once."""
    flash = take_flash()
    if flash:
        getattr(st, flash[0])(flash[1])


def keep_draft(text: str) -> None:
    """Text the agent typed that could not be sent, so it is not lost."""
    st.session_state[_DRAFT] = text


def take_draft() -> str | None:
    return st.session_state.pop(_DRAFT, None)


def set_pending_prompt(text: str) -> None:
    """A message chosen by a click (a suggested first message), sent on the next run."""
    st.session_state[_PENDING] = text


def take_pending_prompt() -> str | None:
    return st.session_state.pop(_PENDING, None)
