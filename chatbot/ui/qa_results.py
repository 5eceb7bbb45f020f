"""The QA page's result list: one card per conversation, paged, with what matched."""

from __future__ import annotations

import math

import streamlit as st

from chatbot.services.qa import QAService
from chatbot.store.search import ConversationHit, SearchFilters, SearchPage

from . import qa_state, state
from .qa_filters import clear_filters
from .qa_text import badge, count, one_line, snippet_markdown, span

TITLE_CHARS = 80


def _open(conversation_id: int) -> None:
    qa_state.open_conversation(conversation_id)


def search(qa: QAService, filters: SearchFilters) -> tuple[SearchPage, int]:
    """The results page to show and its number (from 0); back to the first page when the
    list shrank under the one we were on."""
    page = qa_state.page_number(filters)
    found = qa.find(state.actor(), filters, page)
    if page and not found.rows and found.total:
        st.session_state[qa_state.PAGE] = 1
        found, page = qa.find(state.actor(), filters, 0), 0
    return found, page


def empty_state(filtered: bool) -> None:
    if filtered:
        st.info(
            "No conversation matches. Loosen a filter, or search for fewer words "
            '(every word must be in the same message; `refund*` also finds "refunded").',
            icon=":material/search_off:",
        )
        st.button("Clear search and filters", key="qa-clear-empty", on_click=clear_filters,
                  icon=":material/filter_alt_off:")
    else:
        st.info(
            "No conversations yet. Conversations agents hold on the Chat page show up here "
            "as soon as they are saved; you can also import a JSON export (Import, above).",
            icon=":material/forum:",
        )


def result_header(found: SearchPage, page: int) -> None:
    """"1–50 of 123 conversations"; one line above the list."""
    if found.total <= found.limit:
        st.caption(f"{count(found.total, 'conversation')} {'matches' if found.total == 1 else 'match'}.")
        return
    first = page * found.limit + 1
    last = min(found.total, first + len(found.rows) - 1)
    st.caption(f"{first:,}–{last:,} of {found.total:,} matching conversations.")


def result_list(found: SearchPage, open_id: int | None, *, searched: bool) -> None:
    for hit in found.rows:
        _card(hit, selected=hit.id == open_id, searched=searched)
    pages = math.ceil(found.total / found.limit)
    if pages > 1:
        st.pagination(pages, key=qa_state.PAGE, width="stretch")


def _card(hit: ConversationHit, *, selected: bool, searched: bool) -> None:
    with st.container(border=True, key=f"qa-hit-{hit.id}"):
        st.button(
            one_line(hit.title, TITLE_CHARS) or "Untitled",
            key=f"qa-open-{hit.id}",
            type="primary" if selected else "tertiary",
            icon=":material/chat:",
            on_click=_open,
            args=(hit.id,),
            help="Open the transcript",
        )
        version = f" v{hit.persona_version}" if hit.persona_version is not None else ""
        facts = [
            f"#{hit.id}",
            one_line(hit.persona) + version,
            one_line(hit.owner),
            span(hit.created_at, hit.updated_at),
            count(hit.message_count, "message"),
        ]
        if searched:
            facts.append(count(hit.matches, "match", "matches"))
        st.caption(" · ".join(facts))
        if hit.snippet:
            st.markdown(snippet_markdown(hit.snippet))
        badges = []
        if hit.golden:
            badges.append(badge("golden", "orange", ":material/star:"))
        if hit.archived:
            badges.append(badge("archived", "gray", ":material/archive:"))
        badges += [badge(tag, "blue") for tag in hit.tags]
        if badges:
            st.markdown(" ".join(badges))
