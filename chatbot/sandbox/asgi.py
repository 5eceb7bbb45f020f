"""ASGI plumbing under the routes: request ids, scripted bodies and deliberate drops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .playback import Abort, Action, Pause
from .playback import Send as SendBytes
from .wire import new_request_id


class RequestIdMiddleware:
    """Gives every response, routed or not, a `request-id` header like the real API.

    The id is put in `request.state.request_id` first, so error bodies can repeat it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"request-id"]
                message = {**message, "headers": headers + [(b"request-id", request_id.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class DeliberateDrop(Exception):
    """Raised to make uvicorn close the socket mid-body: the only way ASGI offers to abort."""


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DeliberateDrop))


def hide_deliberate_drops() -> None:
    """Keep uvicorn from logging a traceback for every injected drop (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _HideDeliberateDrops) for existing in logger.filters):
        logger.addFilter(_HideDeliberateDrops())


class ScriptedResponse:
    """Plays a playback script: status and headers first, then each action in order.

    With `content_length` the body is framed by length (a JSON reply), otherwise chunked
    (SSE), so an abort shows up client-side as an incomplete body either way.
    """

    def __init__(
        self,
        script: Sequence[Action],
        *,
        media_type: str,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        content_length: int | None = None,
    ) -> None:
        self.script = script
        self.status_code = status_code
        raw = {"content-type": media_type, **(headers or {})}
        if content_length is not None:
            raw["content-length"] = str(content_length)
        self.raw_headers = [(name.encode(), value.encode()) for name, value in raw.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for action in self.script:
            if isinstance(action, SendBytes):
                await send({"type": "http.response.body", "body": action.data, "more_body": True})
            elif isinstance(action, Pause):
                await asyncio.sleep(action.seconds)
            elif isinstance(action, Abort):
                raise DeliberateDrop()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
