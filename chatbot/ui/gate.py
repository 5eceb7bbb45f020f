"""The sign-in gate every page run passes first (chatbot/ui/router.py): who is this browser?

In order: a user named by a trusted proxy; the session this tab signed in with; the
session cookie; a single sign-on identity (`st.user`). Each is checked against the
database on every run, so sign-out, expiry, a disabled account or a role change take
effect on the next click. Nobody: the sign-in page, and nothing else, is drawn.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

from chatbot.auth import Actor
from chatbot.auth.signin import Ended, SignedIn
from chatbot.auth.web import SESSION_PATH, SIGNOUT_PATH
from chatbot.errors import StatedError
from chatbot.services.runtime import Runtime

from .request import BrowserRequest, current_request
from .resources import get_runtime
from .sso import sso_claims, sso_configured

_SESSION = "_auth_session"  # the id (never the token) of the session this tab signed in with
_ACTOR = "_actor"
_HEADER_SEEN = "_auth_header_seen"
_NOTICE = "_auth_notice"
_CHECKED = "_auth_checked"  # when the session was last checked against the database
RECHECK_SECONDS = 1.0


def redirect(url: str) -> None:
    """Send the browser to `url` on this app: the message `st.login` and `st.logout` use
    for their own redirects (a full page load, so the cookie a route sets is read)."""
    ctx = get_script_run_ctx()
    if ctx is None:  # no browser to redirect (a bare script run)
        return
    message = ForwardMsg()
    message.auth_redirect.url = url
    ctx.enqueue(message)


class SessionEnded(StatedError):
    """The session ended between two runs (signed out elsewhere, expired, disabled)."""


def current_actor() -> Actor:
    """Who this run acts for; the gate has put them here before any page runs.

    Callbacks (a button's on_click) and a panel's own reruns (st.fragment) run without the
    router, so here the session is checked again when the last check is more than a
    second old: a sign-out elsewhere, an expiry or a disabled account stops them too.
    """
    actor = st.session_state.get(_ACTOR)
    if not isinstance(actor, Actor):
        raise RuntimeError("no signed-in actor: the page ran without the sign-in gate")
    checked = st.session_state.get(_CHECKED, 0.0)
    if actor.session_id is None or time.monotonic() - checked <= RECHECK_SECONDS:
        return actor
    found = get_runtime().identity.signin.resume(actor.session_id, address=actor.address)
    if isinstance(found, Actor):
        return _bind(found)
    _forget()
    st.session_state[_NOTICE] = found.message
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        st.rerun(scope="app")  # the router draws the sign-in page
    raise SessionEnded(found.message)


def _bind(actor: Actor) -> Actor:
    st.session_state[_ACTOR] = actor
    st.session_state[_CHECKED] = time.monotonic()
    if actor.session_id is not None:
        st.session_state[_SESSION] = actor.session_id
    return actor


def _forget() -> None:
    for key in (_ACTOR, _SESSION, _HEADER_SEEN, _CHECKED):
        st.session_state.pop(key, None)


def _known(runtime: Runtime, request: BrowserRequest) -> Actor | Ended | None:
    identity = runtime.identity
    if identity.settings.trusted_user_header and request.proxy_user:
        first = not st.session_state.get(_HEADER_SEEN)
        found = identity.signin.from_header(request.proxy_user, address=request.address, announce=first)
        st.session_state[_HEADER_SEEN] = True
        return found
    session_id = st.session_state.get(_SESSION)
    if isinstance(session_id, int):
        return identity.signin.resume(session_id, address=request.address)
    if request.cookie:
        found = identity.signin.from_token(request.cookie, address=request.address)
        if found is not None:
            return found
    claims = sso_claims() if sso_configured(identity.settings) else None
    if claims:
        return identity.signin.sso(claims, address=request.address)
    return None


def signed_in_actor(runtime: Runtime) -> Actor | None:
    """The signed-in person for this run, or None (with the reason kept for the sign-in
    page) if there is nobody."""
    request = current_request()
    found = _known(runtime, request)
    if isinstance(found, Actor):
        st.session_state.pop(_NOTICE, None)
        return _bind(found)
    _forget()
    if isinstance(found, Ended):
        st.session_state[_NOTICE] = found.message
    return None


def complete_sign_in(signed: SignedIn, request: BrowserRequest) -> None:
    """Bind this tab to the new session, and (in a real browser) let the cookie route
    give it the cookie that keeps it signed in across reloads and restarts."""
    _bind(signed.actor)
    st.session_state.pop(_NOTICE, None)
    if request.gated and signed.handoff:
        redirect(f"{SESSION_PATH}?{urlencode({'code': signed.handoff, 'next': request.path})}")


def take_notice() -> str | None:
    return st.session_state.pop(_NOTICE, None)


def sign_out(runtime: Runtime) -> None:
    """End the session on the server first (the cookie is dead from then on), then
    drop the cookie (or Streamlit's SSO cookie) in the browser."""
    actor = st.session_state.get(_ACTOR)
    if isinstance(actor, Actor):
        runtime.identity.signin.sign_out(actor)
    request = current_request()
    sso = sso_configured(runtime.identity.settings) and bool(sso_claims())
    _forget()
    st.session_state[_NOTICE] = "You signed out."
    if sso:
        st.logout()
    elif request.gated:
        redirect(f"{SIGNOUT_PATH}?{urlencode({'next': '/?signed_out=1'})}")
