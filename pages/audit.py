"""Admin: the audit log — who did what, when, from where. Read only: entries cannot be
changed or deleted from the app (or in the database)."""

import streamlit as st

from chatbot.ui.audit_view import audit_filters, audit_table
from chatbot.ui.resources import get_runtime

runtime = get_runtime()
st.title("Audit log", anchor=False)
st.caption("Sign-ins, changes to people, personas, budgets, checks and settings, replays, "
           "exports and imports, and every refusal, newest first. Times are UTC.")

filters = audit_filters(runtime)
audit_table(runtime, filters)
