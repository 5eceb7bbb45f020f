"""Entry point: page config, navigation and the frame every page shares."""

import logging

import streamlit as st

from chatbot.ui.resources import get_runtime

st.set_page_config(page_title="Support assistant", page_icon=":material/support_agent:", layout="wide")

try:
    get_runtime()
except ValueError as error:  # a bad setting: our messages name it and say what is expected
    st.error(f"The app could not start: {error}. Fix the setting (README, Configuration) and reload.")
    st.stop()
except Exception as error:  # the database or the sandbox: details go to the server log only
    logging.getLogger("chatbot").exception("start-up failed")
    st.error(
        f"The app could not start ({type(error).__name__}). The server log has the details; "
        "check CHATBOT_DATABASE_URL / CHATBOT_DATA_DIR, then reload."
    )
    st.stop()

pages = {
    "Support": [st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True)],
    "Admin": [
        st.Page("pages/personas.py", title="Personas", icon=":material/badge:"),
        st.Page("pages/usage.py", title="Usage", icon=":material/monitoring:"),
    ],
    "QA": [
        st.Page("pages/qa_conversations.py", title="Conversations", icon=":material/manage_search:"),
        st.Page("pages/qa_replays.py", title="Replays", icon=":material/replay:"),
        st.Page("pages/qa_checks.py", title="Checks", icon=":material/rule:"),
    ],
}
st.navigation(pages).run()
