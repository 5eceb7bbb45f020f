"""Process-wide singletons for the pages, shared by every browser session."""

from __future__ import annotations

import logging

import streamlit as st

from chatbot.services.runtime import Runtime, build_runtime


@st.cache_resource(show_spinner="Starting the assistant…")
def get_runtime() -> Runtime:
    """One runtime per process: engine, pooled HTTP client, reply workers (and the sandbox
    when no key is set). Thread-safe by construction; never stored in session state."""
    logging.getLogger("chatbot").setLevel(logging.INFO)
    return build_runtime()
