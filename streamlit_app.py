"""Entry point: page config, navigation and the frame every page shares."""

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.ui.resources import get_runtime

st.set_page_config(page_title="Support assistant", page_icon=":material/support_agent:", layout="wide")

try:
    get_runtime()
except (ChatbotError, ValueError) as error:  # bad settings: say which, not a traceback
    st.error(f"The app could not start: {error}. Fix the setting (see README, Configuration) and reload.")
    st.stop()

pages = [
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
]
st.navigation(pages).run()
