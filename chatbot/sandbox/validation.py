"""Request validation the way the real Messages API does it: the first problem wins.

Every check is a pure function of headers or the parsed body and returns an `ApiError`
or None, so the Starlette shell only has to send what it gets back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalog import find_model
from .errors import ApiError, invalid_request
from .tools import check_tool_choice, check_tool_pairs, check_tools

ROLES = ("user", "assistant")
# Block types we accept without looking inside; only text is read by the reply composer.
OPAQUE_BLOCK_TYPES = frozenset({"image", "document", "tool_use", "tool_result", "thinking"})


def check_auth(headers: Mapping[str, str], expected_key: str | None) -> ApiError | None:
    key = presented_key(headers)
    if not key:
        return ApiError(401, "authentication_error", "x-api-key header is required")
    if expected_key is not None and key != expected_key:
        return ApiError(401, "authentication_error", "invalid x-api-key")
    return None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `x-api-key`, or a bearer token as the SDK's `auth_token` sends it."""
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_version(headers: Mapping[str, str]) -> ApiError | None:
    if not headers.get("anthropic-version", "").strip():
        return invalid_request("anthropic-version: header is required")
    return None


def validate_messages_request(body: Any, *, require_max_tokens: bool = True) -> ApiError | None:
    """Validate a /v1/messages (or count_tokens) body; an unknown model is a 404 like the API."""
    if not isinstance(body, dict):
        return invalid_request("Input should be a valid dictionary")
    if "model" not in body:
        return invalid_request("model: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        return invalid_request("model: Input should be a valid string")
    if require_max_tokens:
        error = _check_max_tokens(body)
        if error:
            return error
    error = (
        _check_messages(body.get("messages", _MISSING))
        or _check_system(body.get("system"))
        or _check_temperature(body.get("temperature"))
        or _check_stop_sequences(body.get("stop_sequences"))
        or _check_stream(body.get("stream"))
        or check_tools(body.get("tools"))
        or check_tool_choice(body.get("tool_choice"), body.get("tools"))
        or check_tool_pairs(body["messages"])
    )
    if error:
        return error
    if find_model(body["model"]) is None:
        return ApiError(404, "not_found_error", f"model: {body['model']}")
    return None


_MISSING = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_max_tokens(body: dict) -> ApiError | None:
    if "max_tokens" not in body:
        return invalid_request("max_tokens: Field required")
    value = body["max_tokens"]
    if not _is_int(value):
        return invalid_request("max_tokens: Input should be a valid integer")
    if value < 1:
        return invalid_request("max_tokens: Input should be greater than or equal to 1")
    return None


def _check_messages(messages: Any) -> ApiError | None:
    if messages is _MISSING:
        return invalid_request("messages: Field required")
    if not isinstance(messages, list):
        return invalid_request("messages: Input should be a valid list")
    if not messages:
        return invalid_request("messages: at least one message is required")
    for index, message in enumerate(messages):
        error = _check_message(index, message)
        if error:
            return error
    if messages[0]["role"] != "user":
        return invalid_request('messages: first message must use the "user" role')
    for previous, current in zip(messages, messages[1:]):
        if previous["role"] == current["role"]:
            return invalid_request(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{current["role"]}" roles in a row'
            )
    return None


def _check_message(index: int, message: Any) -> ApiError | None:
    where = f"messages.{index}"
    if not isinstance(message, dict):
        return invalid_request(f"{where}: Input should be a valid dictionary")
    if "role" not in message:
        return invalid_request(f"{where}.role: Field required")
    if message["role"] not in ROLES:
        return invalid_request(f"{where}.role: Input should be 'user' or 'assistant'")
    if "content" not in message:
        return invalid_request(f"{where}.content: Field required")
    content = message["content"]
    if isinstance(content, str):
        if not content.strip():
            return invalid_request(f"{where}: {message['role']} messages must have non-empty content")
        return None
    if not isinstance(content, list):
        return invalid_request(f"{where}.content: Input should be a valid list")
    if not content:
        return invalid_request(f"{where}: {message['role']} messages must have non-empty content")
    for block_index, block in enumerate(content):
        error = _check_block(f"{where}.content.{block_index}", block)
        if error:
            return error
    return None


def _check_block(where: str, block: Any) -> ApiError | None:
    if not isinstance(block, dict):
        return invalid_request(f"{where}: Input should be a valid dictionary")
    block_type = block.get("type")
    if block_type == "text":
        if not isinstance(block.get("text"), str):
            return invalid_request(f"{where}.text: Field required")
        if not block["text"].strip():
            return invalid_request("messages: text content blocks must be non-empty")
        return None
    if block_type in OPAQUE_BLOCK_TYPES:
        return None
    if block_type is None:
        return invalid_request(f"{where}.type: Field required")
    return invalid_request(
        f"{where}: Input tag '{block_type}' found using 'type' does not match any of the expected tags"
    )


def _check_system(system: Any) -> ApiError | None:
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list):
        return invalid_request("system: Input should be a valid list")
    for index, block in enumerate(system):
        where = f"system.{index}"
        if not isinstance(block, dict) or block.get("type") != "text":
            return invalid_request(f"{where}: Input should be a valid text block")
        if not isinstance(block.get("text"), str):
            return invalid_request(f"{where}.text: Field required")
        if not block["text"].strip():
            return invalid_request("system: text content blocks must be non-empty")
    return None


def _check_temperature(temperature: Any) -> ApiError | None:
    if temperature is None:
        return None
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        return invalid_request("temperature: Input should be a valid number")
    if temperature < 0:
        return invalid_request("temperature: Input should be greater than or equal to 0")
    if temperature > 1:
        return invalid_request("temperature: Input should be less than or equal to 1")
    return None


def _check_stop_sequences(stop_sequences: Any) -> ApiError | None:
    if stop_sequences is None:
        return None
    if not isinstance(stop_sequences, list):
        return invalid_request("stop_sequences: Input should be a valid list")
    for index, sequence in enumerate(stop_sequences):
        if not isinstance(sequence, str):
            return invalid_request(f"stop_sequences.{index}: Input should be a valid string")
        if not sequence.strip():
            return invalid_request("stop_sequences: each stop sequence must contain non-whitespace")
    return None


def _check_stream(stream: Any) -> ApiError | None:
    if stream is None or isinstance(stream, bool):
        return None
    return invalid_request("stream: Input should be a valid boolean")
