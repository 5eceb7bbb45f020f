"""Conversations out of and into the QA page: downloads (JSON, Markdown, CSV), the JSON
import, and the hand-off of a set of conversations to the Replays page.

Downloads are generated when clicked (a callable for `st.download_button`), so a page
showing "Export 2,400 conversations" does not build 2,400 transcripts on every rerun.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
from streamlit.errors import StreamlitAPIException

from chatbot.auth import Actor
from chatbot.services.exports import Exports
from chatbot.services.qa import MAX_EXPORT
from chatbot.store import utc_now

from . import qa_state, state
from .navigation import page_file
from .qa_text import count, one_line

FORMATS = (
    # (label, extension, mime, help)
    ("JSON", "json", "application/json", "Everything recorded, re-importable on this page."),
    ("Markdown", "md", "text/markdown", "For reading: each conversation as a document."),
    ("CSV", "csv", "text/csv", "One row per message, for a spreadsheet."),
)


def download_buttons(
    exports: Exports, ids: Callable[[], Sequence[int]], *, stem: str, key: str
) -> None:
    """Three download buttons for the conversations `ids()` returns when one is clicked."""
    render = {"json": exports.json, "md": exports.markdown, "csv": exports.csv}
    for label, ext, mime, help_text in FORMATS:
        st.download_button(
            label,
            data=_deferred(render[ext], ids),
            file_name=f"{stem}.{ext}",
            mime=mime,
            key=f"{key}-{ext}",
            icon=":material/download:",
            help=help_text,
            on_click="ignore",
            width="stretch",
        )


def _deferred(
    render: Callable[[Actor, list[int]], str], ids: Callable[[], Sequence[int]]
) -> Callable[[], str]:
    # The actor is read now, in the page run: the download is rendered later, on click.
    actor = state.actor()
    return lambda: render(actor, list(ids()))


def export_set(exports: Exports, ids: Callable[[], Sequence[int]], total: int) -> None:
    """The popover that exports every conversation the filters match (up to the cap)."""
    shown = min(total, MAX_EXPORT)
    with st.popover(f"Export {shown:,}", icon=":material/download:", disabled=not total):
        if total > MAX_EXPORT:
            st.warning(
                f"{total:,} conversations match; an export holds at most {MAX_EXPORT:,}, so "
                f"the first {MAX_EXPORT:,} in list order are exported. Narrow the filters "
                "(dates, for instance) to export the rest in parts.",
                icon=":material/warning:",
            )
        else:
            st.caption(
                "Exports the one matching conversation." if total == 1
                else f"Exports the {total:,} matching conversations, in list order."
            )
        stamp = utc_now().strftime("%Y%m%d-%H%M")
        download_buttons(exports, ids, stem=f"conversations-{stamp}-{shown}", key="qa-export-set")


def export_one(exports: Exports, conversation_id: int) -> None:
    with st.popover("Export", icon=":material/download:"):
        download_buttons(
            exports, lambda: [conversation_id], stem=f"conversation-{conversation_id}",
            key=f"qa-export-{conversation_id}",
        )


def replay_button(ids: Callable[[], Sequence[int]], *, key: str, label: str = "Replay…") -> None:
    """Hand the conversations to the Replays page (which reads `qa_replay_ids`)."""
    if not st.button(label, key=key, icon=":material/replay:",
                     help="Run these conversations again against a persona version or a model."):
        return
    st.session_state[qa_state.REPLAY_IDS] = list(ids())
    try:
        st.switch_page(page_file("qa_replays"))
    except StreamlitAPIException:  # not in this person's navigation
        st.info("The Replays page is not open to you; the conversations are kept for it.",
                icon=":material/info:")


def _import(exports: Exports, field: str) -> None:
    upload = st.session_state.get(field)
    if upload is None:
        return
    qa_state.reset_upload()  # the next run shows an empty uploader: one file, one import
    result = state.attempt(lambda: exports.import_json(state.actor(), upload.getvalue()))
    if result is None:
        # attempt() flashed the service's message; name the file it is about.
        kind, message = state.take_flash() or ("error", "The file could not be imported.")
        state.flash(kind, f"{upload.name} was not imported. {message}")
        return
    ids = [new for _, new in result.conversations]
    st.session_state[qa_state.IMPORTED] = ids
    owners = [one_line(name) for name in result.original_owners]
    whose = ", ".join(owners[:3]) + (f" and {len(owners) - 3:,} more" if len(owners) > 3 else "")
    origin = f" In the file they belonged to {whose}; a note on each says where it came from." if owners else ""
    state.flash(
        "success",
        f"Imported {count(len(ids), 'conversation')} ({count(result.messages, 'message')}) "
        f"from {upload.name} as new conversations, now yours.{origin}",
    )
    if ids:
        qa_state.open_conversation(ids[0])


def import_popover(exports: Exports) -> None:
    with st.popover("Import", icon=":material/upload:"):
        field = qa_state.upload_key()
        st.file_uploader(
            "A JSON export (from this page)",
            type=["json"],
            key=field,
            on_change=_import,
            args=(exports, field),
            help="Creates new conversations, owned by you; nothing already here is changed.",
        )


def imported_notice() -> None:
    """Buttons to open what the last import created, until dismissed."""
    ids = st.session_state.get(qa_state.IMPORTED)
    if not ids:
        return
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.caption("Imported:", width="content")
        for new_id in ids[:8]:
            st.button(f"Open {new_id}", key=f"qa-imported-{new_id}", type="tertiary",
                      icon=":material/open_in_new:", on_click=qa_state.open_conversation, args=(new_id,))
        if len(ids) > 8:
            st.caption(f"and {len(ids) - 8:,} more", width="content")
        st.button("Dismiss", key="qa-imported-dismiss", type="tertiary", icon=":material/close:",
                  on_click=st.session_state.pop, args=(qa_state.IMPORTED, None))
