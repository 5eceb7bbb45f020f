"""What an anonymous browser sees, and nothing else: the sign-in form (Streamlit widgets,
so AppTest signs in exactly as a person does), single sign-on, and on a new instance the
form that makes the first admin from the printed setup link."""

from __future__ import annotations

import streamlit as st

from chatbot.auth.setup import SetupRefused
from chatbot.auth.signin import SignInRefused
from chatbot.errors import ChatbotError
from chatbot.services.runtime import Runtime

from . import gate
from .request import BrowserRequest, current_request
from .sso import sso_configured, start_sso

_ERROR = "_signin_error"
USERNAME, PASSWORD = "signin-username", "signin-password"
SETUP_FIELDS = ("setup-username", "setup-display-name", "setup-email", "setup-password", "setup-confirm")

CLI_HINT = "`./dev.sh users add NAME --role admin --password-stdin`"


def _submit(runtime: Runtime, request: BrowserRequest) -> None:
    username = st.session_state.get(USERNAME, "")
    password = st.session_state.get(PASSWORD, "")
    st.session_state[PASSWORD] = ""  # never kept past the attempt, right or wrong
    try:
        signed = runtime.identity.signin.authenticate(username, password, address=request.address)
    except SignInRefused as refused:
        st.session_state[_ERROR] = refused.user_message
        return
    gate.complete_sign_in(signed, request)


def _submit_setup(runtime: Runtime, request: BrowserRequest, code: str) -> None:
    values = {name: st.session_state.get(name, "") for name in SETUP_FIELDS}
    for name in ("setup-password", "setup-confirm"):
        st.session_state[name] = ""
    if values["setup-password"] != values["setup-confirm"]:
        st.session_state[_ERROR] = "The two passwords differ. Type the same password twice."
        return
    try:
        signed = runtime.identity.first_admin.create(
            code, username=values["setup-username"], password=values["setup-password"],
            display_name=values["setup-display-name"], email=values["setup-email"], address=request.address,
        )
    except SetupRefused as refused:
        st.session_state[_ERROR] = refused.user_message
        st.query_params.pop("setup", None)
        return
    except ChatbotError as error:
        st.session_state[_ERROR] = error.user_message
        return
    st.query_params.pop("setup", None)
    gate.complete_sign_in(signed, request)


def _setup_form(runtime: Runtime, request: BrowserRequest, code: str) -> None:
    st.subheader("Create the first admin account", anchor=False)
    st.caption("This link works once, until the first admin exists. The admin then adds everyone else "
               "(Admin → Users).")
    with st.form("setup", enter_to_submit=True):
        st.text_input("Username", key="setup-username", autocomplete="username", max_chars=64)
        st.text_input("Display name", key="setup-display-name", max_chars=80)
        st.text_input("Email (optional)", key="setup-email", max_chars=254)
        st.text_input("Password", key="setup-password", type="password", autocomplete="new-password",
                      help="At least 12 characters; a passphrase of a few words is easiest.")
        st.text_input("Confirm password", key="setup-confirm", type="password", autocomplete="new-password")
        st.form_submit_button("Create admin account", type="primary", width="stretch",
                              on_click=_submit_setup, args=(runtime, request, code))


def _sign_in_form(runtime: Runtime, request: BrowserRequest) -> None:
    with st.form("sign-in", enter_to_submit=True, border=True):
        st.text_input("Username", key=USERNAME, autocomplete="username", max_chars=64)
        st.text_input("Password", key=PASSWORD, type="password", autocomplete="current-password")
        st.form_submit_button("Sign in", type="primary", width="stretch", on_click=_submit,
                              args=(runtime, request))
    settings = runtime.identity.settings
    if sso_configured(settings):
        st.button(settings.sso_label, key="signin-sso", icon=":material/key:", width="stretch",
                  on_click=start_sso, args=(settings,))


def sign_in_page(runtime: Runtime) -> None:
    """Draw the sign-in page (the only thing an anonymous browser gets)."""
    request = current_request()
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Support assistant", anchor=False)
        if request.untrusted:
            # The router started bare: nothing the browser says has been checked.
            st.error("This server was started without its sign-in gate. Start it with `./dev.sh app` "
                     "(`streamlit run streamlit_app.py`).", icon=":material/gpp_bad:")
            return
        error = st.session_state.pop(_ERROR, None)
        notice = gate.take_notice() or ("You signed out." if st.query_params.get("signed_out") else None)
        code = st.query_params.get("setup")
        first_admin = runtime.identity.first_admin
        if error:
            st.error(error, icon=":material/error:")
        elif notice:
            st.info(notice, icon=":material/logout:")
        if code and first_admin.valid(code):
            _setup_form(runtime, request, code)
            return
        if code:
            st.warning("This setup link is no longer valid: an admin account exists already, or the link "
                       "expired. Sign in below.", icon=":material/link_off:")
        st.caption("Sign in to continue.")
        _sign_in_form(runtime, request)
        if first_admin.needed():
            st.info(
                "**This app has no admin yet.** Open the setup link the server printed when it started "
                "(*Create the first admin account: …*), or create the admin on the server with "
                f"{CLI_HINT}.",
                icon=":material/person_add:",
            )
