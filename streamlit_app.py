"""The server: Streamlit's ASGI app around the router (`chatbot/ui/router.py`), with the
network gate and the sign-in cookie routes in front of every request.

    streamlit run streamlit_app.py                      (what ./dev.sh app runs)
    uvicorn streamlit_app:app --host 127.0.0.1 --port 8501

`streamlit run` finds `app` below and serves it, with the usual flags (--server.port).
"""

import streamlit as st

from chatbot.ui.server import lifespan, middleware, routes

app = st.App("chatbot/ui/router.py", routes=routes(), middleware=middleware(), lifespan=lifespan)
