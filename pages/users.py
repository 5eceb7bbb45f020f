"""Admin: people — add, change role, disable, reset a password, see last sign-in."""

import streamlit as st

from chatbot.ui import state
from chatbot.ui.resources import get_runtime
from chatbot.ui.users_admin import add_user_form, people_table, person_panel

runtime = get_runtime()
st.title("Users", anchor=False)
st.caption("Everyone who may sign in, and their role. Changing a role, disabling someone or "
           "resetting a password ends their sessions at once.")

state.show_flash()

people = state.attempt(lambda: runtime.identity.users.list(state.actor()))
if people is None:
    state.show_flash()
    st.stop()
chosen = people_table(people)
if chosen is not None:
    person_panel(runtime, chosen, people)
add_user_form(runtime)
