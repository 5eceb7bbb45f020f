"""The signed-in person in the sidebar: who they are, their role, and Sign out."""

from __future__ import annotations

import streamlit as st

from chatbot.auth import Actor
from chatbot.services.runtime import Runtime

from . import gate
from .qa_text import one_line


def account_menu(runtime: Runtime, actor: Actor) -> None:
    with st.sidebar:
        with st.popover(one_line(f"{actor.name} · {actor.role.label}", 40), icon=":material/account_circle:",
                        width="stretch"):
            st.caption(f"Signed in as **{one_line(actor.username)}** ({actor.role.label})")
            if actor.session_id is not None:
                st.button("Sign out", key="sign-out", icon=":material/logout:", width="stretch",
                          on_click=gate.sign_out, args=(runtime,))
            else:
                st.caption("Signed in by your organisation's sign-in proxy.")
