"""QA: checks — the reusable tests replayed replies are graded by: must (not) contain, a
regular expression, a maximum length, JSON matching a schema, or a model-graded rubric."""

import streamlit as st

from chatbot.ui import state
from chatbot.ui.check_library import create_form, edit_panel, library, pick_check, try_panel
from chatbot.ui.resources import get_runtime

runtime = get_runtime()
actor = state.actor()
st.title("Checks", anchor=False)
st.caption("Define a check once and pick it for any replay run; pass rates are counted per "
           "persona version on the Replays page.")

state.show_flash()

checks = library(runtime, actor)
chosen = pick_check(checks)  # the one to try or edit
if chosen is not None:
    with st.container(border=True):
        try_it, edit = st.tabs(["Try it", "Edit"])
        with try_it:
            try_panel(runtime, actor, chosen)
        with edit:
            edit_panel(runtime, actor, chosen)
create_form(runtime, actor)
