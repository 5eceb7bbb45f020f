"""The QA page's search box and filters, read into one `SearchFilters`.

The search text, persona, agent, status, feedback and "golden only" are bound to query
parameters (`?q=refund&agent=ana&status=errors`): a filtered list is a link to share.
Tags, dates and the rarer switches stay in the session: tags show live counts, which
would make poor URLs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from chatbot.services.qa import QAService
from chatbot.store.search import SearchFilters

from . import state

SEARCH_HELP = (
    'All words must appear in one message. `"exact phrase"` for words side by side, '
    "`refund*` for any word starting with refund. Word endings are matched loosely "
    "(refunds finds refund)."
)
STATUS_LABELS = {None: "Any", "errors": "Errors", "partial": "Partial replies"}
FEEDBACK_LABELS = {None: "Any", "up": "Thumbs up", "down": "Thumbs down", "any": "Any rating"}
ORDER_LABELS = {"relevance": "Best match", "recent": "Most recent"}

# Widget keys; the bound ones are also the names in the URL.
TEXT, PERSONA, AGENT, STATUS, FEEDBACK, GOLDEN = "q", "persona", "agent", "status", "feedback", "golden"
VERSION, VERSION_OF = "qa-version", "qa-version-of"
TAGS, DATES, ARCHIVED, ORDER = "qa-tags", "qa-dates", "qa-archived", "qa-order"
_BOUND = (TEXT, PERSONA, AGENT, STATUS, FEEDBACK, GOLDEN)


def clear_filters() -> None:
    """Back to everything (a button callback)."""
    for key in (TEXT, PERSONA, AGENT, STATUS, FEEDBACK):
        st.session_state[key] = "" if key == TEXT else None
    st.session_state[GOLDEN] = False
    st.session_state[TAGS] = []
    st.session_state[DATES] = ()
    st.session_state[ARCHIVED] = False
    st.session_state[ORDER] = "relevance"
    st.session_state[VERSION] = None


def filter_bar(qa: QAService) -> SearchFilters:
    """Draw the search box and filters; return what they select."""
    actor = state.actor()
    personas = qa.personas_used(actor)
    owners = qa.owners(actor)
    tag_counts = dict(qa.tags(actor))

    search, persona_col, version_col, agent_col = st.columns(
        [3.2, 1.3, 0.8, 1.3], vertical_alignment="bottom"
    )
    text = search.text_input(
        "Search messages",
        key=TEXT,
        bind="query-params",
        placeholder='Words, "exact phrase", prefix*',
        help=SEARCH_HELP,
        icon=":material/search:",
    )
    persona = persona_col.selectbox(
        "Persona",
        [None, *sorted(personas)],
        format_func=lambda key: "Any persona" if key is None else key,
        key=PERSONA,
        bind="query-params",
    )
    if st.session_state.get(VERSION_OF) != persona:
        # Another persona's version numbers mean nothing here: start from "Any".
        st.session_state[VERSION_OF] = persona
        st.session_state[VERSION] = None
    version = version_col.selectbox(
        "Version",
        [None, *personas.get(persona, [])] if persona else [None],
        format_func=lambda v: "Any" if v is None else f"v{v}",
        key=VERSION,
        disabled=persona is None,
        placeholder="Any",
        help="Pick a persona first." if persona is None else None,
    )
    agent = agent_col.selectbox(
        "Agent",
        [None, *owners],
        format_func=lambda name: "Any agent" if name is None else name,
        key=AGENT,
        bind="query-params",
    )

    status_col, feedback_col, tags_col, golden_col, more_col = st.columns(
        [1.2, 1.2, 2.4, 1.4, 1.0], vertical_alignment="bottom"
    )
    status = status_col.selectbox(
        "Status",
        list(STATUS_LABELS),
        format_func=STATUS_LABELS.__getitem__,
        key=STATUS,
        bind="query-params",
        help="Conversations with at least one failed, or cut-off, reply.",
    )
    feedback = feedback_col.selectbox(
        "Feedback",
        list(FEEDBACK_LABELS),
        format_func=FEEDBACK_LABELS.__getitem__,
        key=FEEDBACK,
        bind="query-params",
        help="Conversations with a reply an agent rated.",
    )
    # A tag picked earlier that no conversation carries any more is simply dropped.
    if TAGS in st.session_state:
        st.session_state[TAGS] = [t for t in st.session_state[TAGS] if t in tag_counts]
    tags = tags_col.multiselect(
        "Tags",
        list(tag_counts),
        format_func=lambda tag: f"{tag} ({tag_counts.get(tag, 0)})",
        key=TAGS,
        placeholder="Any tags" if tag_counts else "No tags yet",
        help="Conversations carrying all the tags picked (on the conversation or on one of its replies).",
    )
    golden = golden_col.toggle(
        "Golden only",
        key=GOLDEN,
        bind="query-params",
        help="Only the regression cases QA marked as golden.",
    )
    with more_col.popover("More", icon=":material/tune:", width="stretch"):
        since, until = _date_range()
        archived = st.toggle("Include archived", key=ARCHIVED)
        order = st.segmented_control(
            "Order",
            list(ORDER_LABELS),
            format_func=ORDER_LABELS.__getitem__,
            default="relevance",
            key=ORDER,
            help="Best match applies to a search; without one the newest come first.",
        )

    return SearchFilters(
        text=text or "",
        persona=persona,
        persona_version=version,
        owner=agent,
        since=since,
        until=until,
        status=status,
        feedback=feedback,
        tags=tuple(tags),
        golden=golden,
        include_archived=archived,
        order=order or "relevance",
    )


def _date_range() -> tuple[datetime | None, datetime | None]:
    today = datetime.now(UTC).date()
    picked = st.date_input(
        "Active between (UTC)",
        value=[],
        max_value=today,
        key=DATES,
        help="Conversations with any activity from the start of the first day to the end of the last.",
    )
    days = [d for d in (picked if isinstance(picked, (tuple, list)) else (picked,)) if isinstance(d, date)]
    if not days:
        return None, None
    first, last = min(days), max(days)
    return (
        datetime.combine(first, time(), tzinfo=UTC),
        datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
    )


def is_filtered(filters: SearchFilters) -> bool:
    """Whether anything narrows the list (the order does not)."""
    return replace(filters, order="relevance") != SearchFilters()
