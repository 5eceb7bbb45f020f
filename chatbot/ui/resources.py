"""Process-wide singletons for the pages, shared by every browser session."""

from __future__ import annotations

import logging

import streamlit as st

from chatbot.services.runtime import Runtime, build_runtime


def log_to_stderr() -> None:
    # Streamlit configures only its own loggers; give ours a handler once, so retries,
    # failures and the sandbox notice reach the server's console.
    logger = logging.getLogger("chatbot")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@st.cache_resource(show_spinner="Starting the assistant…")
def get_runtime() -> Runtime:
    """One runtime per process: engine, pooled HTTP client, reply workers (and the sandbox
    when no key is set). Thread-safe by construction; never stored in session state."""
    log_to_stderr()
    return build_runtime()
