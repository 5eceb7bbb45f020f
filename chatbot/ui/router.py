"""The router and frame: page config, the sign-in gate, navigation by role, the shared
sidebar. The main script of the app that `streamlit_app.py` serves (with the ASGI gate
and the cookie routes around it).

It lives here, away from the top-level `pages/` folder, on purpose: Streamlit runs a
main script whose folder has a `pages/` subfolder in its legacy multipage mode until
the first `st.navigation` call of the process, and in that mode a request for
`/usage` runs `pages/usage.py` itself, without this router and its sign-in gate.
"""

import logging

import streamlit as st

from chatbot.ui.account_menu import account_menu
from chatbot.ui.gate import signed_in_actor
from chatbot.ui.navigation import anonymous_pages, pages_for
from chatbot.ui.resources import get_runtime
from chatbot.ui.signin_page import sign_in_page

st.set_page_config(page_title="Support assistant", page_icon=":material/support_agent:", layout="wide")

try:
    runtime = get_runtime()
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

actor = signed_in_actor(runtime)
if actor is None:
    # Only the sign-in page, at every address; no navigation, no data.
    st.navigation(anonymous_pages(lambda: sign_in_page(runtime)), position="hidden").run()
    st.stop()

account_menu(runtime, actor)
st.navigation(pages_for(actor)).run()
