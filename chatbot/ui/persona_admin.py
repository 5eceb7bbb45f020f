"""The personas page's frame: choosing a persona, creating, duplicating, archiving, saving."""

from __future__ import annotations

import streamlit as st

from chatbot.personas import PersonaSpec, Variable
from chatbot.services.personas import ResolvedPersona
from chatbot.services.runtime import Runtime

from . import state
from .navigation import page_file

STARTER = PersonaSpec(
    name="New persona",
    description="",
    template="You are a helpful support assistant for {{ company_name }}.",
    variables=(Variable("company_name", "Company name", default="Acme", required=True),),
)

_SELECTED = "persona-selected"


def _act(action, success: str, select: bool = False) -> None:
    result = state.attempt(action, success)
    if select and result is not None:
        st.session_state[_SELECTED] = result.key  # show the persona just made


def persona_toolbar(runtime: Runtime) -> str | None:
    """The persona picker and its actions; returns the key being edited."""
    show_archived = st.toggle("Show archived", key="persona-show-archived")
    actor = state.actor()
    summaries = runtime.personas.list(actor, include_archived=show_archived)
    pick, new, copy, archive = st.columns([0.55, 0.15, 0.15, 0.15], vertical_alignment="bottom")
    new.button(
        "New", icon=":material/add:", width="stretch", key="persona-new",
        on_click=_act,
        args=(lambda: runtime.personas.create(actor, STARTER), "Persona created.", True),
    )
    if not summaries:
        st.info("No personas to show: turn on *Show archived*, create one with **New**, or import a file.")
        return None
    keys = [p.key for p in summaries]
    by_key = {p.key: p for p in summaries}
    if st.session_state.get(_SELECTED) not in keys:
        st.session_state[_SELECTED] = keys[0]

    def label(key: str) -> str:
        p = by_key[key]
        status = "archived" if p.archived else (
            f"published v{p.published_version}" if p.published_version else "not published"
        )
        drafts = " · newer draft" if p.published_version and p.latest_version > p.published_version else ""
        return f"{p.name} ({status}{drafts})"

    key = pick.selectbox("Persona", keys, format_func=label, key=_SELECTED)
    copy.button(
        "Duplicate", icon=":material/content_copy:", width="stretch", key="persona-copy",
        on_click=_act,
        args=(lambda: runtime.personas.duplicate(actor, key), "Persona duplicated.", True),
    )
    archived = by_key[key].archived
    archive.button(
        "Unarchive" if archived else "Archive",
        icon=":material/unarchive:" if archived else ":material/archive:",
        width="stretch",
        key="persona-archive",
        help="Archived personas are not offered for new conversations; old ones keep working.",
        on_click=_act,
        args=(
            lambda: runtime.personas.archive(actor, key, archived=not archived),
            "Persona restored." if archived else "Persona archived.",
        ),
    )
    return key


def save_buttons(
    runtime: Runtime, key: str, latest: ResolvedPersona, spec: PersonaSpec | None, *, prefix: str
) -> None:
    note = st.text_input("Change note (optional)", key=f"{prefix}-note", max_chars=200)
    unchanged = spec is not None and spec == latest.spec
    if unchanged:
        st.caption(
            f"No changes since version {latest.number}"
            + ("" if latest.published else " (a draft: publish it from History, or below)")
        )
    if not latest.published:
        # A draft is the moment to check for regressions, before agents get it.
        st.page_link(
            page_file("qa_replays"),
            label=f"Replay the golden set against draft v{latest.number} before publishing",
            icon=":material/replay:",
        )
    actor = state.actor()

    def save_draft():
        return runtime.personas.save(actor, key, spec, note=note or None)

    def save_and_publish():
        if unchanged:  # the latest version is a draft already: just publish it
            return runtime.personas.publish(actor, key, latest.number)
        return runtime.personas.save(actor, key, spec, note=note or None, publish=True)

    # Handled in the script body, not with on_click: a callback would see the form as it
    # was one run earlier, and an edit made just before the click would be lost.
    left, right = st.columns(2)
    if left.button(
        "Save draft", icon=":material/save:", width="stretch",
        disabled=spec is None or unchanged, key=f"{prefix}-save-draft",
    ):
        _act(save_draft, "Saved as a new draft version.")
        st.rerun()
    if right.button(
        "Save and publish", icon=":material/publish:", type="primary", width="stretch",
        disabled=spec is None or (unchanged and latest.published), key=f"{prefix}-publish",
    ):
        _act(save_and_publish, "Published: new conversations use it now.")
        st.rerun()
