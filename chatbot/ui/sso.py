"""Single sign-on through Streamlit's own OpenID Connect support (`st.login`, `st.user`,
`st.logout`, configured in `[auth]` of `.streamlit/secrets.toml`). Streamlit and Authlib
run the protocol; we read the signed-in claims and never the client secret."""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatbot.auth.settings import AuthSettings

# Set when this tab leaves for the provider. The button's own rerun still carries the old
# st.user (one the app refused: no role yet, disabled); signing that in now would open a
# session nobody uses, since the browser is already on its way to a new sign-in.
_STARTED = "_sso_started"


def _auth_section() -> Any:
    try:
        return st.secrets.get("auth")
    except Exception:  # no secrets file at all: SSO is simply not configured
        return None


def sso_configured(settings: AuthSettings) -> bool:
    section = _auth_section()
    if not section or "redirect_uri" not in section or "cookie_secret" not in section:
        return False
    provider = settings.sso_provider
    config = section.get(provider) if provider else section
    return bool(config) and "client_id" in config and "server_metadata_url" in config


def sso_claims() -> dict[str, Any] | None:
    """The identity token's claims of an SSO sign-in in this browser, or None. Never the
    tokens themselves (`expose_tokens` puts them in st.user): nothing of ours needs them."""
    if st.session_state.get(_STARTED):
        return None
    try:
        if not st.user.is_logged_in:
            return None
        user = st.user.to_dict()
    except Exception:
        return None
    return {k: v for k, v in user.items() if k != "tokens"}


def start_sso(settings: AuthSettings) -> None:
    st.session_state[_STARTED] = True
    st.login(settings.sso_provider) if settings.sso_provider else st.login()
