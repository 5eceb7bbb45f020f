"""The Messages API over loopback HTTP with plain httpx."""

from __future__ import annotations

import re

from sandbox_helpers import HEADERS, MODEL, message_request, parse_sse, streamed_text
from starlette.testclient import TestClient

from chatbot.sandbox import create_app, replies

SYSTEM = "You are a support assistant for Acme Co."


def test_json_reply(client):
    response = client.post("/v1/messages", json=message_request(system=SYSTEM))
    assert response.status_code == 200
    assert re.match(r"^req_[0-9a-zA-Z]{24}$", response.headers["request-id"])
    message = response.json()
    assert message["id"].startswith("msg_")
    assert (message["type"], message["role"], message["model"]) == ("message", "assistant", MODEL)
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    [block] = message["content"]
    assert block["type"] == "text" and "Acme Co." in block["text"]
    assert set(message["usage"]) == {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                                     "cache_read_input_tokens"}
    assert message["usage"]["input_tokens"] == 14  # system 9 + "Where is my order?" 5


def test_stream_matches_json_reply(client):
    plain = client.post("/v1/messages", json=message_request(system=SYSTEM)).json()
    response = client.post("/v1/messages", json=message_request(system=SYSTEM, stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "request-id" in response.headers
    events = parse_sse(response.text)
    start, delta = events[0][1]["message"], events[-2][1]
    assert streamed_text(events) == plain["content"][0]["text"]
    assert start["model"] == MODEL and start["id"].startswith("msg_")
    assert start["usage"]["input_tokens"] == delta["usage"]["input_tokens"] == plain["usage"]["input_tokens"]
    assert delta["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_same_request_same_reply(client):
    first = client.post("/v1/messages", json=message_request()).json()
    second = client.post("/v1/messages", json=message_request()).json()
    assert first["content"] == second["content"] and first["id"] != second["id"]


def test_max_tokens_cuts_the_reply(client):
    message = client.post("/v1/messages", json=message_request(max_tokens=5)).json()
    assert (message["stop_reason"], message["usage"]["output_tokens"]) == ("max_tokens", 5)
    events = parse_sse(client.post("/v1/messages", json=message_request(max_tokens=5, stream=True)).text)
    assert streamed_text(events) == message["content"][0]["text"]
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_stop_sequence_cuts_before_it(client):
    message = client.post("/v1/messages", json=message_request(stop_sequences=["order"])).json()
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "order")
    assert "order" not in message["content"][0]["text"]
    events = parse_sse(client.post("/v1/messages", json=message_request(stop_sequences=["order"], stream=True)).text)
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "order"}


def test_bearer_token_is_accepted(client):
    headers = {"x-api-key": "", "authorization": "Bearer sk-oauth"}
    assert client.post("/v1/messages", json=message_request(), headers=headers).status_code == 200


def test_count_tokens(client):
    response = client.post("/v1/messages/count_tokens", json={
        "model": MODEL, "system": SYSTEM, "messages": [{"role": "user", "content": "Where is my order?"}]})
    assert response.status_code == 200 and response.json() == {"input_tokens": 14}
    assert "request-id" in response.headers


def test_models(client):
    page = client.get("/v1/models").json()
    ids = [model["id"] for model in page["data"]]
    from chatbot.sandbox.catalog import MODELS

    assert ids == [model.id for model in MODELS]
    assert {"claude-sonnet-5-5", "claude-sonnet-4-5", "claude-haiku-4-5"} <= set(ids)
    assert (page["has_more"], page["first_id"], page["last_id"]) == (False, ids[0], ids[-1])
    assert all(m["type"] == "model" and m["created_at"].endswith("Z") and m["display_name"] for m in page["data"])
    assert client.get("/v1/models/claude-haiku-4-5").json()["id"] == "claude-haiku-4-5"
    assert client.get("/v1/models/claude-1").status_code == 404


def test_request_log_records_requests_but_never_the_key(client, sandbox):
    client.post("/v1/messages", json=message_request("one"))
    client.post("/v1/messages", json=message_request(), headers={"x-api-key": "", "authorization": "Bearer sk-bearer"})
    client.post("/v1/messages", json=message_request(), headers={"x-api-key": ""})
    logged = client.get("/_sandbox/requests").json()
    assert [entry["has_key"] for entry in logged] == [True, True, False]
    assert logged[0]["path"] == "/v1/messages"
    assert logged[0]["body"]["messages"][0]["content"] == "one"
    assert logged[0]["headers"]["anthropic-version"] == HEADERS["anthropic-version"]
    assert sandbox.state.requests() == logged
    for text in (str(logged), str(sandbox.state.requests())):
        assert "sk-test-secret" not in text and "sk-bearer" not in text
        assert "x-api-key" not in text and "authorization" not in text
    assert client.delete("/_sandbox/requests").status_code == 200
    assert sandbox.state.requests() == []


def test_request_log_keeps_the_last_100(client, sandbox):
    for index in range(105):
        sandbox.state.record({"path": "/v1/messages", "body": index, "headers": {}, "has_key": True})
    assert [entry["body"] for entry in sandbox.state.requests()] == list(range(5, 105))


def test_a_sandbox_bug_is_a_500_in_the_error_shape(monkeypatch):
    def broken(body):
        raise RuntimeError("bug")

    monkeypatch.setattr(replies, "complete", broken)
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        response = test_client.post("/v1/messages", json=message_request(), headers=HEADERS)
    assert response.status_code == 500
    assert response.json()["error"] == {"type": "api_error", "message": "Internal server error"}
    assert response.json()["request_id"] == response.headers["request-id"]
