"""A persona's versions: who changed what and when, a diff of any two, publish, restore."""

from __future__ import annotations

import streamlit as st

from chatbot.services.runtime import Runtime

from . import state


def history_panel(runtime: Runtime, key: str) -> None:
    actor = state.actor()
    versions = runtime.personas.versions(actor, key)
    st.dataframe(
        [
            {
                "version": v.number,
                "published": "✓" if v.published else "",
                "by": v.created_by,
                "when (UTC)": f"{v.created_at:%Y-%m-%d %H:%M}",
                "note": v.note or "",
            }
            for v in versions
        ],
        hide_index=True,
        width="stretch",
    )
    numbers = [v.number for v in versions]
    # Keys carry the latest number: a new version resets the choices to it (and the one
    # before), rather than leaving them on what was newest when the tab was first drawn.
    suffix = f"{key}-v{numbers[0]}"
    if len(numbers) >= 2:
        left, right = st.columns(2)
        a = left.selectbox("Compare version", numbers, index=1, key=f"diff-a-{suffix}")
        b = right.selectbox("with version", numbers, index=0, key=f"diff-b-{suffix}")
        diff = runtime.personas.diff(actor, key, a, b)
        if diff:
            st.code(diff, language="diff")
        else:
            st.caption("These two versions are identical.")

    chosen = st.selectbox("Version", numbers, key=f"act-{suffix}", format_func=lambda n: f"version {n}")
    publish, restore = st.columns(2)
    publish.button(
        f"Publish version {chosen}",
        key=f"publish-{key}",
        icon=":material/publish:",
        width="stretch",
        help="New conversations get the published version; running ones keep theirs.",
        on_click=state.attempt,
        args=(lambda: runtime.personas.publish(actor, key, chosen), f"Version {chosen} is published."),
    )
    restore.button(
        f"Restore version {chosen}",
        key=f"restore-{key}",
        icon=":material/history:",
        width="stretch",
        help="Makes a new version with this version's content (a draft until published).",
        on_click=state.attempt,
        args=(
            lambda: runtime.personas.restore(actor, key, chosen),
            f"Version {chosen} was restored as a new draft version.",
        ),
    )
