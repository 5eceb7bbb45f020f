"""What the QA conversations page remembers: the open conversation in the URL (`?qc=42`,
so a link to a transcript can be shared), the rest in session state.

The search text and the common filters are widgets bound to query parameters (see
`qa_filters`); Streamlit keeps those in the URL itself.
"""

from __future__ import annotations

import streamlit as st

from . import state

OPEN = "qc"
PAGE = "qa-page"  # st.pagination's key: 1-based
SEEN_FILTERS = "qa-filters-seen"
IMPORTED = "qa-imported"  # ids created by the last import, shown until dismissed
UPLOADS = "qa-upload-round"  # bumped after each import so the uploader starts empty
REPLAY_IDS = "qa_replay_ids"  # read by the Replays page


def open_id() -> int | None:
    return state.query_id(OPEN)


def open_conversation(conversation_id: int | None) -> None:
    state.set_query_id(OPEN, conversation_id)


def page_number(filters: object) -> int:
    """The results page to show (from 0); back to the first when the filters changed."""
    if st.session_state.get(SEEN_FILTERS) != filters:
        st.session_state[SEEN_FILTERS] = filters
        st.session_state[PAGE] = 1
    return max(1, int(st.session_state.get(PAGE) or 1)) - 1


def upload_key() -> str:
    return f"qa-import-{st.session_state.get(UPLOADS, 0)}"


def reset_upload() -> None:
    st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1
