"""The sandbox's HTTP routes: a thin Starlette shell over validation, replies and playback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import batches, replies, tools, wire
from .asgi import RequestIdMiddleware, ScriptedResponse, hide_deliberate_drops
from .catalog import find_model
from .errors import ApiError, default_message, invalid_request
from .faults import (
    BadToolInputFault,
    ErrorEventFault,
    Fault,
    FaultSpecError,
    SlowFirstByteFault,
    StatusFault,
    parse_fault,
)
from .limits import RequestWindow
from .playback import json_script, stream_script
from .state import SandboxState, loggable_request
from .validation import check_auth, check_version, validate_messages_request

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
FAULT_HEADER = "x-sandbox-fault"


@dataclass
class SandboxConfig:
    state: SandboxState = field(default_factory=SandboxState)
    api_key: str | None = None
    delay_ms: float = 0.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rate_limit: RequestWindow | None = None  # None: /v1/messages is never rate limited


class _BodyTooLarge(Exception):
    pass


def create_app(config: SandboxConfig | None = None) -> Starlette:
    """An ASGI app speaking the Messages API; `config.state` is shared with the caller."""
    hide_deliberate_drops()
    app = Starlette(
        routes=[
            Route("/v1/messages", create_message, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/v1/messages/batches", create_batch, methods=["POST"]),
            Route("/v1/messages/batches", list_batches, methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}", get_batch, methods=["GET"]),
            Route("/v1/messages/batches/{batch_id}", delete_batch, methods=["DELETE"]),
            Route("/v1/messages/batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
            Route("/v1/messages/batches/{batch_id}/results", batch_results, methods=["GET"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/_sandbox/faults", add_faults, methods=["POST"]),
            Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
            Route("/_sandbox/requests", list_requests, methods=["GET"]),
            Route("/_sandbox/requests", clear_requests, methods=["DELETE"]),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={HTTPException: http_exception, Exception: internal_error},
    )
    app.state.sandbox = config or SandboxConfig()
    return app


def _config(request: Request) -> SandboxConfig:
    return request.app.state.sandbox


def error_response(request: Request, error: ApiError) -> JSONResponse:
    body = wire.error_body(error.error_type, error.message, request.state.request_id)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else exc.detail
    error_type = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return error_response(request, ApiError(exc.status_code, error_type, message))


async def internal_error(request: Request, exc: Exception) -> Response:
    # Sent by Starlette's outermost middleware, outside RequestIdMiddleware: add the id here.
    request_id = getattr(request.state, "request_id", None) or wire.new_request_id()
    body = wire.error_body("api_error", "Internal server error", request_id)
    return JSONResponse(body, status_code=500, headers={"request-id": request_id})


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive_api_request(request: Request) -> tuple[Any, ApiError | None]:
    """Read, log and pre-check a /v1/messages* request: (parsed body, first error or None)."""
    config = _config(request)
    body, error = None, None
    try:
        raw = await _read_body(request, config.max_body_bytes)
        body = json.loads(raw)
    except _BodyTooLarge:
        error = ApiError(413, "request_too_large", default_message(413))
    except (ValueError, UnicodeDecodeError) as exc:
        error = invalid_request(f"There was an error parsing the body of your request: {exc}")
    config.state.record(loggable_request(request.url.path, body, request.headers))
    return body, check_auth(request.headers, config.api_key) or check_version(request.headers) or error


def _take_fault(request: Request) -> Fault | None:
    """The header wins over the queue, and a header fault leaves the queue untouched."""
    header = request.headers.get(FAULT_HEADER)
    if header is not None:
        return parse_fault(json.loads(header))
    return _config(request).state.next_fault()


async def create_message(request: Request) -> Response:
    body, error = await _receive_api_request(request)
    error = error or validate_messages_request(body)
    limit = _config(request).rate_limit
    if limit is None:
        return await _answer_message(request, body, error)
    if error is None and not limit.admit():
        error = limit.rejection()
    response = await _answer_message(request, body, error)
    # Like the API, every response reports the limit, refused or not.
    response.raw_headers += [(name.encode(), value.encode()) for name, value in limit.headers().items()]
    return response


async def _answer_message(request: Request, body: Any, error: ApiError | None) -> Response:
    if error:
        return error_response(request, error)
    try:
        fault = _take_fault(request)
    except (ValueError, FaultSpecError) as exc:
        return error_response(request, invalid_request(f"{FAULT_HEADER}: {exc}"))
    if isinstance(fault, StatusFault):
        return error_response(request, fault.to_error())
    if isinstance(fault, SlowFirstByteFault):
        await asyncio.sleep(fault.seconds)

    input_tokens = tools.prompt_tokens(body)
    message_id = wire.new_message_id()
    call = tools.answer(body, bad_input=isinstance(fault, BadToolInputFault))
    completion = replies.complete(body) if call is None else None
    if body.get("stream"):
        if call is not None:
            events = wire.tool_stream_events(message_id, body["model"], call, input_tokens)
        else:
            events = wire.stream_events(message_id, body["model"], completion, input_tokens)
        script = stream_script(events, fault, _config(request).delay_ms / 1000)
        return ScriptedResponse(script, media_type="text/event-stream", headers={"cache-control": "no-cache"})
    if isinstance(fault, ErrorEventFault):
        return error_response(request, fault.to_error())
    if call is not None:
        message = wire.tool_message_body(message_id, body["model"], call, input_tokens)
    else:
        message = wire.message_body(message_id, body["model"], completion, input_tokens)
    payload = json.dumps(message).encode()
    return ScriptedResponse(json_script(payload, fault), media_type="application/json", content_length=len(payload))


async def count_tokens(request: Request) -> Response:
    body, error = await _receive_api_request(request)
    error = error or validate_messages_request(body, require_max_tokens=False)
    if error:
        return error_response(request, error)
    return JSONResponse({"input_tokens": tools.prompt_tokens(body)})


def _check_headers(request: Request) -> ApiError | None:
    return check_auth(request.headers, _config(request).api_key) or check_version(request.headers)


async def list_models(request: Request) -> Response:
    error = _check_headers(request)
    return error_response(request, error) if error else JSONResponse(wire.models_page())


async def get_model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    model = find_model(model_id)
    error = _check_headers(request) or (None if model else ApiError(404, "not_found_error", f"model: {model_id}"))
    return error_response(request, error) if error else JSONResponse(wire.model_entry(model))


# -- message batches: the rules and the store are in batches.py ---------------------------


def _receive_bodiless(request: Request) -> ApiError | None:
    """Log a batch GET/DELETE/cancel (they carry no body) and check its headers."""
    _config(request).state.record(loggable_request(request.url.path, None, request.headers))
    return _check_headers(request)


def _batch_answer(request: Request, error: ApiError | None, act: Callable[[batches.BatchStore], Any]) -> Response:
    """The shared tail of the batch routes: the first error, else a queued fault, else
    `act` on the store. A status fault fires before `act`, so a refused poll counts for
    nothing; a drop or stall plays over the JSON body as on /v1/messages."""
    fault = None
    if error is None:
        try:
            fault = _take_fault(request)
        except (ValueError, FaultSpecError) as exc:
            error = invalid_request(f"{FAULT_HEADER}: {exc}")
    if isinstance(fault, StatusFault):
        error = fault.to_error()
    elif isinstance(fault, ErrorEventFault):
        error = fault.to_error()
    result = error or act(_config(request).state.batches)
    if isinstance(result, ApiError):
        return error_response(request, result)
    media_type = "application/json"
    if isinstance(result, bytes):
        payload, media_type = result, "application/binary"  # the JSONL results, as the API sends them
    elif isinstance(result, batches.Batch):
        payload = json.dumps(result.to_wire(str(request.base_url))).encode()
    else:
        payload = json.dumps(result).encode()
    return ScriptedResponse(json_script(payload, fault), media_type=media_type, content_length=len(payload))


async def create_batch(request: Request) -> Response:
    body, error = await _receive_api_request(request)
    error = error or batches.check_envelope(body)
    polls = None
    try:
        polls = batches.parse_polls(request.headers.get(batches.POLLS_HEADER))
    except ValueError as exc:
        error = error or invalid_request(f"{batches.POLLS_HEADER}: {exc}")
    return _batch_answer(request, error, lambda store: store.create(body, polls_to_end=polls))


async def list_batches(request: Request) -> Response:
    error = _receive_bodiless(request)
    limit = batches.page_limit(request.query_params.get("limit"))
    after, before = request.query_params.get("after_id"), request.query_params.get("before_id")
    base = str(request.base_url)
    if isinstance(limit, ApiError):
        return _batch_answer(request, error or limit, lambda store: None)
    return _batch_answer(request, error, lambda store: store.page(base, limit=limit, after_id=after, before_id=before))


async def get_batch(request: Request) -> Response:
    batch_id = request.path_params["batch_id"]
    return _batch_answer(request, _receive_bodiless(request), lambda store: store.poll(batch_id))


async def delete_batch(request: Request) -> Response:
    batch_id = request.path_params["batch_id"]
    return _batch_answer(request, _receive_bodiless(request), lambda store: store.delete(batch_id))


async def cancel_batch(request: Request) -> Response:
    batch_id = request.path_params["batch_id"]
    return _batch_answer(request, _receive_bodiless(request), lambda store: store.cancel(batch_id))


async def batch_results(request: Request) -> Response:
    batch_id = request.path_params["batch_id"]
    return _batch_answer(request, _receive_bodiless(request), lambda store: store.results(batch_id))


async def add_faults(request: Request) -> Response:
    state = _config(request).state
    try:
        payload = json.loads(await request.body())
        state.add_faults(payload.get("faults") if isinstance(payload, dict) else None)
    except (ValueError, TypeError, FaultSpecError) as exc:
        return error_response(request, invalid_request(f"faults: {exc}"))
    return JSONResponse({"queued": len(state.faults)})


async def clear_faults(request: Request) -> Response:
    _config(request).state.clear_faults()
    return JSONResponse({"queued": 0})


async def list_requests(request: Request) -> Response:
    return JSONResponse(_config(request).state.requests())


async def clear_requests(request: Request) -> Response:
    _config(request).state.clear_requests()
    return JSONResponse({"cleared": True})
