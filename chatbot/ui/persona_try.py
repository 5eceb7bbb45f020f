""""Try it": a scratch chat against the draft in the editor; nothing is saved."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.llm import Turn
from chatbot.personas import PersonaSpec
from chatbot.services.runtime import Runtime

from . import state
from .chat_view import AVATARS
from .safe_markdown import safe_markdown


def try_panel(runtime: Runtime, spec: PersonaSpec | None, values: Mapping[str, str], *, key: str) -> None:
    if spec is None:
        st.info("Fix the persona in the editor first; the scratch chat uses the draft as it is.")
        return
    history_key = f"scratch-{key}"
    turns: list[Turn] = st.session_state.setdefault(history_key, [])
    st.caption("A scratch chat with the draft in the editor and the sample values; not saved.")
    for turn in turns:
        with st.chat_message(turn.role, avatar=AVATARS[turn.role]):
            st.markdown(safe_markdown(turn.content))
    with st.form(f"scratch-form-{key}", clear_on_submit=True):
        text = st.text_area("Message", key=f"scratch-text-{key}", height=80)
        send = st.form_submit_button("Send", icon=":material/send:")
    if st.button("Clear", key=f"scratch-clear-{key}", icon=":material/delete_sweep:"):
        st.session_state[history_key] = []
        st.rerun()
    if not (send and text.strip()):
        return
    asked = [*turns, Turn("user", text.strip())]
    with st.chat_message("user", avatar=AVATARS["user"]):
        st.markdown(safe_markdown(text.strip()))
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        try:
            with runtime.scratch.stream(state.actor(), spec, values, asked) as reply:
                # st.write_stream calls iter() once to check its argument and again to
                # read it; a ReplyStream may be iterated only once, its iterator any time.
                answer = st.write_stream(iter(reply))
        except ChatbotError as error:
            st.error(error.user_message, icon=":material/error:")
            return
    st.session_state[history_key] = [*asked, Turn("assistant", answer if isinstance(answer, str) else "".join(answer))]
