"""Admin: personas — system-prompt templates with variables and model settings, versioned."""

import streamlit as st

from chatbot.errors import ChatbotError
from chatbot.ui import state
from chatbot.ui.persona_admin import persona_toolbar, save_buttons
from chatbot.ui.persona_editor import persona_form, preview_panel
from chatbot.ui.persona_files import files_panel
from chatbot.ui.persona_history import history_panel
from chatbot.ui.persona_try import try_panel
from chatbot.ui.resources import get_runtime

runtime = get_runtime()
st.title("Personas", anchor=False)

state.show_flash()

key = persona_toolbar(runtime)
if key is None:
    files_panel(runtime)
    st.stop()

try:
    latest = runtime.personas.latest(state.actor(), key)
except ChatbotError as error:
    st.error(error.user_message)
    st.stop()

edit, history, try_it, files = st.tabs(["Edit", "History", "Try it", "Import / export"])
# Widget keys carry the version number, so the form reloads after every save or restore.
prefix = f"edit-{key}-v{latest.number}"
with edit:
    form_column, preview_column = st.columns([0.6, 0.4], gap="large")
    with form_column:
        draft, spec = persona_form(runtime, latest.spec, prefix=prefix)
        save_buttons(runtime, key, latest, spec, prefix=prefix)
    with preview_column:
        values = preview_panel(runtime, spec, prefix=prefix)
with history:
    history_panel(runtime, key)
with try_it:
    try_panel(runtime, spec, values, key=key)
with files:
    files_panel(runtime)
