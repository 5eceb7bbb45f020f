"""Admin → Audit log: filters (person, action, dates), a page of entries, older/newer,
and the CSV of everything that matches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from chatbot.auth.audit import ACTIONS
from chatbot.services.runtime import Runtime
from chatbot.store.audit import AuditFilter

from . import state

_PAGES = "audit-page-stack"  # the before_id of each page shown so far (keyset paging)
ANYONE, ANONYMOUS = "Anyone", "(not signed in)"


def audit_filters(runtime: Runtime) -> AuditFilter:
    people = state.attempt(lambda: runtime.identity.users.usernames(state.actor())) or []
    actions = {"": "Any action", **ACTIONS}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        person = st.selectbox("Person", [ANYONE, ANONYMOUS, *people], key="audit-person", width=240)
        action = st.selectbox("Action", list(actions), format_func=actions.__getitem__, key="audit-action",
                              width=260)
        today = datetime.now(UTC).date()
        picked = st.date_input("Dates (UTC)", value=(today - timedelta(days=30), today), key="audit-dates",
                               max_value=today, width=260)
    since, until = _range(picked)
    filters = AuditFilter(
        actor={ANYONE: None, ANONYMOUS: ""}.get(person, person) if person != ANYONE else None,
        action=action or None, since=since, until=until,
    )
    if st.session_state.get("audit-filters") != filters:  # new filters start on the newest page
        st.session_state["audit-filters"] = filters
        st.session_state[_PAGES] = [None]
    return filters


def _range(picked: object) -> tuple[datetime | None, datetime | None]:
    days = list(picked) if isinstance(picked, tuple | list) else [picked]
    days = [d for d in days if isinstance(d, date)]
    if not days:
        return None, None
    start = datetime.combine(days[0], time.min, UTC)
    end = datetime.combine(days[-1], time.min, UTC) + timedelta(days=1)
    return start, end


def audit_table(runtime: Runtime, filters: AuditFilter) -> None:
    audit, actor = runtime.identity.audit, state.actor()
    stack: list[int | None] = st.session_state.setdefault(_PAGES, [None])
    page = state.attempt(lambda: audit.page(actor, filters, before_id=stack[-1]))
    state.show_flash()
    if page is None:
        return
    if not page.rows:
        st.info("No entries match these filters.", icon=":material/search_off:")
        return
    frame = pd.DataFrame([
        {"When (UTC)": f"{r.at:%Y-%m-%d %H:%M:%S}", "Who": r.actor or ANONYMOUS, "Role": r.role,
         "From": r.address, "Action": r.label, "About": r.target, "Details": r.detail}
        for r in page.rows
    ])
    st.caption(f"{page.total_label} matching entries · page {len(stack)}")
    st.dataframe(frame, hide_index=True, width="stretch")
    with st.container(horizontal=True):
        if st.button("Newer", key="audit-newer", icon=":material/chevron_left:", disabled=len(stack) == 1):
            stack.pop()
            st.rerun()
        if st.button("Older", key="audit-older", icon=":material/chevron_right:", disabled=page.next_before is None):
            stack.append(page.next_before)
            st.rerun()
        st.download_button(
            "Download CSV", data=lambda: audit.csv(actor, filters), file_name="audit-log.csv",
            mime="text/csv", icon=":material/download:", key="audit-csv",
        )
