"""The ASGI app's parts for `streamlit_app.py`: the network gate, the cookie routes, and start-up
(the runtime built before the first browser connects, and the first-admin link printed).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import Route
from streamlit import config

from chatbot.auth.identity import Identity
from chatbot.auth.settings import load_auth_settings
from chatbot.auth.web import NetworkGate, auth_routes

from .resources import get_runtime, log_to_stderr

log = logging.getLogger("chatbot.server")


def _identity() -> Identity:
    return get_runtime().identity  # the one runtime the pages use


def _base_path() -> str:
    return str(config.get_option("server.baseUrlPath") or "")


def routes() -> list[Route]:
    return auth_routes(_identity, base_path=_base_path())


def middleware() -> list[Middleware]:
    # Read here, at start: a bad CIDR list stops the server instead of letting everyone in.
    return [Middleware(NetworkGate, settings=load_auth_settings(), identity=_identity)]


def public_url() -> str:
    settings = _identity().settings
    if settings.public_url:
        return settings.public_url
    base = _base_path().strip("/")
    return f"http://localhost:{config.get_option('server.port')}" + (f"/{base}" if base else "")


def announce_setup() -> str | None:
    """If nobody can administer the app yet, print the one-time link that makes the first
    admin (the person who started the server can open it; a stranger cannot guess it)."""
    code = _identity().first_admin.issue()
    if code is None:
        return None
    link = f"{public_url()}/?setup={code}"
    log.warning("No admin account exists yet. Create the first admin account: %s", link)
    return link


def _warm_up() -> None:
    # st.cache_resource outside a script run warns that there is no ScriptRunContext;
    # here that is expected (the runtime is built before any browser connects).
    context_log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = context_log.level
    context_log.setLevel(logging.ERROR)
    try:
        get_runtime()
    finally:
        context_log.setLevel(level)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    log_to_stderr()
    await run_in_threadpool(_warm_up)  # the database, the sandbox and the workers, now
    await run_in_threadpool(announce_setup)
    yield
