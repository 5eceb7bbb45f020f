"""Admin → Users: the list of people, one person's controls, and the form to add one.
Every change goes through `UserService` with the acting admin (it checks, and audits)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from chatbot.auth.accounts import UserView
from chatbot.auth.roles import ASSIGNABLE, ROLE_LABELS, Role
from chatbot.services.runtime import Runtime

from . import state
from .qa_text import one_line

SOURCES = {"password": "Password", "oidc": "Single sign-on", "header": "Sign-in proxy",
           "placeholder": "Cannot sign in (shared account from before sign-in)"}


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "never"


def people_table(people: list[UserView]) -> UserView | None:
    """The people as a table, and the person the panel below is about."""
    frame = pd.DataFrame([
        {
            "Username": p.username, "Name": p.display_name, "Role": ROLE_LABELS[p.role],
            "Status": "Active" if p.active else "Disabled", "Signs in with": SOURCES.get(p.source, p.source),
            "Last sign-in (UTC)": _when(p.last_sign_in_at), "Open sessions": p.open_sessions,
        }
        for p in people
    ])
    st.caption(f"{len(people)} {'person' if len(people) == 1 else 'people'}")
    st.dataframe(frame, hide_index=True, width="stretch", key="users-table")
    by_name = {p.username: p for p in people}
    chosen = st.selectbox("Change", [None, *by_name], key="users-chosen", placeholder="Pick a person to change…",
                          format_func=lambda n: "Pick a person to change…" if n is None else
                          f"{by_name[n].display_name} ({n})")
    return by_name.get(chosen) if chosen else None


def person_panel(runtime: Runtime, person: UserView, people: list[UserView]) -> None:
    users, actor = runtime.identity.users, state.actor()
    name = person.username
    with st.container(border=True):
        st.subheader(one_line(person.display_name), anchor=False)
        st.caption(f"{one_line(name)} · {SOURCES.get(person.source, person.source)} · "
                   f"added {_when(person.created_at)} · last sign-in {_when(person.last_sign_in_at)}")
        if not person.active:
            st.warning("Disabled: this person cannot sign in.", icon=":material/person_off:")
        roles = [*ASSIGNABLE, Role.NONE]
        with st.container(horizontal=True, vertical_alignment="bottom"):
            role = st.selectbox("Role", roles, index=roles.index(person.role), key=f"role-{name}",
                                format_func=lambda r: ROLE_LABELS[r], width=220)
            st.button("Change role", key=f"set-role-{name}", disabled=role == person.role,
                      on_click=state.attempt, args=(lambda: users.set_role(actor, name, role),
                                          f"{name} is now {ROLE_LABELS[role]}; their sessions ended."))
            if person.active:
                st.button("Disable", key=f"disable-{name}", icon=":material/person_off:",
                          disabled=name == actor.username,
                          help="You cannot disable yourself." if name == actor.username else None,
                          on_click=state.attempt, args=(lambda: users.disable(actor, name), f"{name} is disabled."))
            else:
                st.button("Enable", key=f"enable-{name}", icon=":material/person_check:",
                          on_click=state.attempt, args=(lambda: users.enable(actor, name), f"{name} can sign in again."))
        if person.source != "placeholder":
            _password_reset(runtime, person)
        _details(runtime, person)
        _reassign(runtime, person, people)


def _password_reset(runtime: Runtime, person: UserView) -> None:
    name = person.username
    with st.popover("Reset password", icon=":material/password:"):
        with st.form(f"reset-{name}", clear_on_submit=True, border=False):
            first = st.text_input("New password", type="password", key=f"reset-pw-{name}",
                                  autocomplete="new-password", help="At least 12 characters.")
            second = st.text_input("Confirm new password", type="password", key=f"reset-pw2-{name}",
                                   autocomplete="new-password")
            if st.form_submit_button("Set password", type="primary"):
                if first != second:
                    st.error("The two passwords differ.")
                else:
                    state.attempt(lambda: runtime.identity.users.reset_password(state.actor(), name, first),
                                  f"New password set for {name}; their sessions ended.")
                    st.rerun()


def _details(runtime: Runtime, person: UserView) -> None:
    name = person.username
    with st.expander("Name and email"):
        with st.form(f"details-{name}", border=False):
            display = st.text_input("Display name", value=person.display_name, max_chars=80)
            email = st.text_input("Email", value=person.email or "", max_chars=254)
            if st.form_submit_button("Save"):
                state.attempt(lambda: runtime.identity.users.update(state.actor(), name, display_name=display,
                                                                     email=email), "Saved.")
                st.rerun()


def _reassign(runtime: Runtime, person: UserView, people: list[UserView]) -> None:
    name = person.username
    others = [p.username for p in people if p.username != name and p.source != "placeholder"]
    if not others:
        return
    with st.expander("Hand their conversations to someone else"):
        target = st.selectbox("New owner", others, key=f"reassign-to-{name}")
        st.button("Move conversations", key=f"reassign-{name}", on_click=state.attempt, args=(
            lambda: runtime.identity.users.reassign(state.actor(), name, target),
            f"Conversations of {name} now belong to {target}.",
        ))


ADD_FIELDS = ("add-username", "add-display", "add-email", "add-password", "add-confirm")


def _add(runtime: Runtime) -> None:
    """The Add button's callback: it runs before the form is drawn again, so it can empty
    the form after a success (and the password fields whatever happens)."""
    values = {key: st.session_state.get(key, "") for key in ADD_FIELDS}
    role = st.session_state.get("add-role", Role.AGENT)
    for key in ("add-password", "add-confirm"):
        st.session_state[key] = ""
    if values["add-password"] != values["add-confirm"]:
        state.flash("error", "The two passwords differ. Type the same password twice.")
        return
    added = state.attempt(lambda: runtime.identity.users.add(
        state.actor(), values["add-username"], role=role, password=values["add-password"],
        display_name=values["add-display"], email=values["add-email"],
    ))
    if added is not None:
        state.flash("success", f"{added.username} added as {ROLE_LABELS[added.role]}.")
        for key in ("add-username", "add-display", "add-email"):
            st.session_state[key] = ""


def add_user_form(runtime: Runtime) -> None:
    with st.expander("Add a person", icon=":material/person_add:", expanded=False):
        with st.form("add-user", border=False):
            cols = st.columns(2)
            cols[0].text_input("Username", key="add-username", max_chars=64,
                               help="Letters, digits and . _ @ + -; not case-sensitive.")
            cols[1].text_input("Display name", key="add-display", max_chars=80)
            cols[0].text_input("Email (optional)", key="add-email", max_chars=254)
            cols[1].selectbox("Role", ASSIGNABLE, format_func=lambda r: ROLE_LABELS[r], key="add-role")
            cols[0].text_input("Password", type="password", key="add-password", autocomplete="new-password",
                               help="At least 12 characters.")
            cols[1].text_input("Confirm password", type="password", key="add-confirm", autocomplete="new-password")
            st.form_submit_button("Add", type="primary", icon=":material/person_add:", on_click=_add,
                                  args=(runtime,))
