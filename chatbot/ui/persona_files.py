"""Import and export personas as YAML or JSON files (to keep them in version control)."""

from __future__ import annotations

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.services.runtime import Runtime

from . import state


def files_panel(runtime: Runtime) -> None:
    actor = state.actor()
    st.markdown("**Import**")
    upload = st.file_uploader(
        "Persona file (.yaml, .yml or .json)", type=["yaml", "yml", "json"], key="persona-upload"
    )
    if upload is not None and st.button("Import", key="persona-import", icon=":material/upload:"):
        try:
            result = runtime.personas.import_file(actor, upload.getvalue(), upload.name)
        except ChatbotError as error:
            st.error(f"Nothing was imported. {error.user_message}", icon=":material/error:")
        else:
            parts = [
                f"created {', '.join(result.created)}" if result.created else "",
                f"new draft versions of {', '.join(result.updated)}" if result.updated else "",
                f"unchanged: {', '.join(result.unchanged)}" if result.unchanged else "",
            ]
            # Start over so the persona picker above lists what was just imported.
            state.flash("success", "Imported: " + "; ".join(p for p in parts if p) + ".")
            st.rerun()

    st.markdown("**Export**")
    summaries = runtime.personas.list(actor, include_archived=True)
    names = {p.key: p.name for p in summaries}
    keys = st.multiselect(
        "Personas", list(names), default=[p.key for p in summaries if not p.archived],
        format_func=lambda key: names[key], key="persona-export-keys",
    )
    fmt = st.radio("Format", ["yaml", "json"], horizontal=True, key="persona-export-format")
    if keys:
        st.download_button(
            "Download",
            # Made when clicked, not on every run of the page: each export is audited.
            data=lambda: runtime.personas.export(actor, keys, fmt),
            file_name=f"personas.{fmt}",
            mime="application/json" if fmt == "json" else "application/yaml",
            icon=":material/download:",
            key="persona-export",
        )
