"""The Checks page's panels: the library of checks, the form to create one (its fields
follow the kind), editing and archiving one, and trying one on pasted text."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from chatbot.auth import Actor
from chatbot.errors import ChatbotError
from chatbot.services.checks_service import CheckDef
from chatbot.services.runtime import Runtime

from . import state
from .check_forms import config_fields, summary, to_config
from .qa_text import escape

_GENERATION = "check-form-generation"  # bumped after a save, so the forms start afresh


def _generation() -> int:
    return st.session_state.get(_GENERATION, 0)


def _saved(message: str) -> None:
    state.flash("success", message)
    st.session_state[_GENERATION] = _generation() + 1
    st.rerun()


def library(runtime: Runtime, actor: Actor) -> list[CheckDef]:
    """The table of checks; returns the checks shown."""
    show_archived = st.toggle("Show archived checks", key="checks-show-archived")
    checks = runtime.checks.list(actor, include_archived=show_archived)
    if not checks:
        st.info("No checks yet. Create one below: it can then grade every replay run.",
                icon=":material/rule:")
        return []
    st.dataframe(
        [
            {
                "name": c.name,
                "kind": c.label,
                "settings": summary(c.kind, c.config),
                "description": c.description,
                "archived": c.archived,
                "by": c.created_by,
                "created (UTC)": f"{c.created_at:%Y-%m-%d %H:%M}",
            }
            for c in checks
        ],
        hide_index=True,
        width="stretch",
        column_config={"archived": st.column_config.CheckboxColumn("archived", width="small")},
    )
    return checks


def create_form(runtime: Runtime, actor: Actor) -> None:
    kinds = runtime.checks.kinds()
    with st.container(border=True):
        st.subheader("New check", anchor=False)
        kind = st.selectbox("Kind", list(kinds), key="check-new-kind", format_func=lambda k: kinds[k].label)
        st.caption(kinds[kind].help)
        prefix = f"check-new-{kind}-{_generation()}"
        with st.form(prefix, border=False):
            name = st.text_input("Name", key=f"{prefix}-name", max_chars=100,
                                 placeholder="Asks for the order number")
            description = st.text_input("Description (optional)", key=f"{prefix}-description",
                                        help="What the check is for, for whoever picks it for a run.")
            typed = config_fields(kind, prefix=prefix)
            submitted = st.form_submit_button("Create check", type="primary", icon=":material/add:")
        if submitted:
            try:
                check = runtime.checks.create(actor, name=name, kind=kind, config=to_config(kind, typed),
                                              description=description)
            except ChatbotError as error:
                st.error(error.user_message, icon=":material/error:")
            else:
                _saved(f"Check “{check.name}” created.")


def pick_check(checks: Sequence[CheckDef]) -> CheckDef | None:
    if not checks:
        return None
    by_id = {c.id: c for c in checks}
    st.subheader("Try or edit a check", anchor=False)
    chosen = st.selectbox(
        "Check", list(by_id), key="check-picked",
        format_func=lambda i: f"{by_id[i].name} ({by_id[i].label})" + (" · archived" if by_id[i].archived else ""),
    )
    return by_id.get(chosen)


def edit_panel(runtime: Runtime, actor: Actor, check: CheckDef) -> None:
    prefix = f"check-edit-{check.id}-{_generation()}"
    with st.form(prefix, border=False):
        name = st.text_input("Name", value=check.name, key=f"{prefix}-name", max_chars=100)
        description = st.text_input("Description", value=check.description, key=f"{prefix}-description")
        st.caption(f"{check.label}. Settings are fixed once the check has graded a reply: "
                   "for new settings, create a new check and archive this one.")
        typed = config_fields(check.kind, prefix=prefix, config=check.config)
        submitted = st.form_submit_button("Save changes", icon=":material/save:")
    if submitted:
        try:
            saved = runtime.checks.update(actor, check.id, name=name, description=description,
                                          config=to_config(check.kind, typed))
        except ChatbotError as error:
            st.error(error.user_message, icon=":material/error:")
        else:
            _saved(f"Check “{saved.name}” saved.")
    if check.archived:
        st.button("Unarchive", key=f"check-unarchive-{check.id}", icon=":material/unarchive:",
                  on_click=state.attempt,
                  args=(lambda: runtime.checks.archive(actor, check.id, False), f"“{check.name}” is back in the library."))
    else:
        st.button("Archive", key=f"check-archive-{check.id}", icon=":material/archive:",
                  help="Hidden from new runs; its results and the runs that used it stay.",
                  on_click=state.attempt,
                  args=(lambda: runtime.checks.archive(actor, check.id), f"“{check.name}” is archived."))


def try_panel(runtime: Runtime, actor: Actor, check: CheckDef) -> None:
    st.caption(f"{escape(summary(check.kind, check.config))}")
    text = st.text_area("Reply to test", key=f"check-try-text-{check.id}", height=150,
                        placeholder="Paste a reply here.")
    question = None
    if check.kind == "rubric":
        question = st.text_input("The message it answers (optional)", key=f"check-try-question-{check.id}")
        st.caption("Grading a rubric calls the judge model once; it counts towards budgets.")
    if not st.button("Try it", key=f"check-try-{check.id}", icon=":material/science:", type="primary"):
        return
    try:
        outcome = runtime.checks.try_check(actor, check, text, question=question or None)
    except ChatbotError as error:
        st.error(error.user_message, icon=":material/error:")
        return
    detail = escape(outcome.detail)
    if outcome.passed is None:
        st.info(f"**Not graded.** {detail}", icon=":material/help:")
    elif outcome.passed:
        st.success(f"**Pass.** {detail}", icon=":material/check_circle:")
    else:
        st.error(f"**Fail.** {detail}", icon=":material/cancel:")
