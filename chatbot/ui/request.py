"""What the page script knows about the browser's request, as the ASGI gate reported it
(`chatbot/auth/web.py`): the client's address, a user named by a trusted proxy, and the
session cookie. Read from the websocket's handshake (`st.context`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import streamlit as st

from chatbot.auth.tokens import same
from chatbot.auth.web import CLIENT, COOKIE, GATE, GATE_TOKEN, USER


@dataclass(frozen=True)
class BrowserRequest:
    browser: bool  # a real browser connection (AppTest has none)
    gated: bool  # it passed this process's gate (streamlit_app.py), so the x-chatbot-* headers are ours
    address: str
    proxy_user: str | None
    cookie: str | None
    path: str  # the page's path and query, to come back to after the cookie route

    @property
    def untrusted(self) -> bool:
        """A browser that reached the script without the gate: nothing it says is checked."""
        return self.browser and not self.gated


def current_request() -> BrowserRequest:
    headers = st.context.headers
    browser = bool(headers.get("host"))
    gated = same(headers.get(GATE.decode()) or "", GATE_TOKEN)
    # The page's path, and its query except a setup code: where to come back to.
    query = urlencode([(k, v) for k, v in st.query_params.items() if k != "setup"])
    path = (urlsplit(st.context.url or "").path or "/") + (f"?{query}" if query else "")
    return BrowserRequest(
        browser=browser,
        gated=gated,
        address=(headers.get(CLIENT.decode()) or "") if gated else "",
        proxy_user=(headers.get(USER.decode()) or None) if gated else None,
        cookie=st.context.cookies.get(COOKIE) if gated else None,
        path=path,
    )
