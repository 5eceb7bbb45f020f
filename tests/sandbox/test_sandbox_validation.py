"""Validation as pure functions, then the same errors over HTTP with the real error shape."""

from __future__ import annotations

import re

import httpx
import pytest
from sandbox_helpers import HEADERS, MODEL, message_request

from chatbot.sandbox import SandboxServer
from chatbot.sandbox.validation import check_auth, check_version, validate_messages_request

USER = {"role": "user", "content": "hi"}
ASSISTANT = {"role": "assistant", "content": "hello"}
REQUEST_ID = re.compile(r"^req_[0-9A-Za-z]{24}$")


def body(**overrides) -> dict:
    base = {"model": MODEL, "max_tokens": 10, "messages": [USER]}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


INVALID = [
    (body(max_tokens=...), "max_tokens: Field required"),
    (body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
    (body(max_tokens="10"), "max_tokens: Input should be a valid integer"),
    (body(max_tokens=True), "max_tokens: Input should be a valid integer"),
    (body(model=...), "model: Field required"),
    (body(messages=...), "messages: Field required"),
    (body(messages=[]), "messages: at least one message is required"),
    (body(messages="hi"), "messages: Input should be a valid list"),
    (body(messages=[{"role": "system", "content": "x"}]), "messages.0.role: Input should be 'user' or 'assistant'"),
    (body(messages=[{"role": "user", "content": 5}]), "messages.0.content: Input should be a valid list"),
    (body(messages=[{"role": "user", "content": ""}]), "messages.0: user messages must have non-empty content"),
    (body(messages=[{"role": "user", "content": [{"type": "text", "text": " "}]}]),
     "messages: text content blocks must be non-empty"),
    (body(messages=[{"role": "user"}]), "messages.0.content: Field required"),
    (body(messages=[ASSISTANT]), 'messages: first message must use the "user" role'),
    (body(messages=[USER, USER]),
     'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row'),
    (body(messages=[USER, ASSISTANT, ASSISTANT]),
     'messages: roles must alternate between "user" and "assistant", but found multiple "assistant" roles in a row'),
    (body(system=5), "system: Input should be a valid list"),
    (body(system=[{"type": "image"}]), "system.0: Input should be a valid text block"),
    (body(temperature=1.5), "temperature: Input should be less than or equal to 1"),
    (body(temperature=-0.1), "temperature: Input should be greater than or equal to 0"),
    (body(temperature="hot"), "temperature: Input should be a valid number"),
    (body(stop_sequences="END"), "stop_sequences: Input should be a valid list"),
    (body(stop_sequences=[""]), "stop_sequences: each stop sequence must contain non-whitespace"),
    (body(stop_sequences=[3]), "stop_sequences.0: Input should be a valid string"),
    (["not", "an", "object"], "Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("request_body", "message"), INVALID)
def test_invalid_bodies_are_400_with_the_api_message(request_body, message):
    error = validate_messages_request(request_body)
    assert (error.status, error.error_type, error.message) == (400, "invalid_request_error", message)


def test_valid_body_with_blocks_system_and_extra_keys_passes():
    request_body = body(
        system=[{"type": "text", "text": "You work for Acme.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
                  ASSISTANT, USER],
        temperature=0, stop_sequences=["END"], stream=True, metadata={"user_id": "u1"},
    )
    assert validate_messages_request(request_body) is None


def test_unknown_model_is_404():
    error = validate_messages_request(body(model="claude-nonexistent"))
    assert (error.status, error.error_type, error.message) == (404, "not_found_error", "model: claude-nonexistent")


def test_count_tokens_does_not_need_max_tokens():
    assert validate_messages_request(body(max_tokens=...), require_max_tokens=False) is None


def test_auth_accepts_x_api_key_or_bearer_and_checks_a_configured_key():
    assert check_auth({}, None).message == "x-api-key header is required"
    assert check_auth({"x-api-key": "k"}, None) is None
    assert check_auth({"authorization": "Bearer k"}, "k") is None
    assert check_auth({"x-api-key": "other"}, "k").message == "invalid x-api-key"
    assert check_version({}).message == "anthropic-version: header is required"


def assert_error(response, status: int, error_type: str, message: str) -> None:
    assert response.status_code == status
    request_id = response.headers["request-id"]
    assert REQUEST_ID.match(request_id)
    assert response.json() == {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def test_http_missing_key_is_401(client):
    response = client.post("/v1/messages", json=message_request(), headers={"x-api-key": ""})
    assert_error(response, 401, "authentication_error", "x-api-key header is required")


def test_http_missing_version_is_400(client):
    response = client.post("/v1/messages", json=message_request(), headers={"anthropic-version": ""})
    assert_error(response, 400, "invalid_request_error", "anthropic-version: header is required")


def test_http_validation_error_is_400(client):
    response = client.post("/v1/messages", json=body(max_tokens=...))
    assert_error(response, 400, "invalid_request_error", "max_tokens: Field required")


def test_http_body_that_is_not_json_is_400(client):
    response = client.post("/v1/messages", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("There was an error parsing the body")


def test_http_unknown_model_is_404(client):
    response = client.post("/v1/messages", json=message_request(model="claude-2"))
    assert_error(response, 404, "not_found_error", "model: claude-2")


def test_http_unknown_path_is_404_in_the_error_shape(client):
    assert_error(client.get("/v1/nothing-here"), 404, "not_found_error", "Not Found")


def test_http_body_over_the_limit_is_413():
    with SandboxServer(max_body_bytes=1000) as small:
        response = httpx.post(f"{small.base_url}/v1/messages", json=message_request("x" * 2000), headers=HEADERS)
    assert_error(response, 413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")


def test_http_configured_key_rejects_other_keys():
    with SandboxServer(api_key="sk-right") as keyed:
        wrong = httpx.post(f"{keyed.base_url}/v1/messages", json=message_request(), headers=HEADERS)
        right = httpx.post(f"{keyed.base_url}/v1/messages", json=message_request(),
                           headers={**HEADERS, "x-api-key": "sk-right"})
    assert_error(wrong, 401, "authentication_error", "invalid x-api-key")
    assert right.status_code == 200
