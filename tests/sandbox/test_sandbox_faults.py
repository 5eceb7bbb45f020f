"""Every fault kind over loopback HTTP, and where faults come from."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sandbox_helpers import message_request, parse_sse, streamed_text

from chatbot.sandbox import FaultSpecError, parse_fault
from chatbot.sandbox.faults import StatusFault


def stream(client: httpx.Client, **kwargs) -> httpx.Response:
    return client.post("/v1/messages", json=message_request(stream=True), **kwargs)


def test_status_fault_with_retry_headers(client, sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 429, "retry_after": "2", "retry_after_ms": "10",
                               "should_retry": True}])
    response = client.post("/v1/messages", json=message_request())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2" and response.headers["retry-after-ms"] == "10"
    assert response.headers["x-should-retry"] == "true"
    assert response.json() == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"},
        "request_id": response.headers["request-id"],
    }
    assert client.post("/v1/messages", json=message_request()).status_code == 200


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [(529, "overloaded_error", "Overloaded"), (500, "api_error", "Internal server error"),
     (503, "api_error", "Service unavailable"), (401, "authentication_error", "invalid x-api-key"),
     (400, "invalid_request_error", "Invalid request")],
)
def test_status_fault_defaults(status, error_type, message):
    assert parse_fault({"kind": "status", "status": status}) == StatusFault(status, error_type, message)


def test_status_fault_on_a_stream_request_is_a_plain_error(client, sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 529, "should_retry": False}])
    response = stream(client)
    assert response.status_code == 529 and response.headers["x-should-retry"] == "false"
    assert response.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_error_event_mid_stream(client, sandbox):
    sandbox.state.add_faults([{"kind": "error_event", "after": 3}])
    response = stream(client)
    assert response.status_code == 200
    events = parse_sse(response.text)
    assert [name for name, _ in events].count("content_block_delta") == 3
    assert events[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def test_error_event_without_stream_is_an_error_status(client, sandbox):
    sandbox.state.add_faults([{"kind": "error_event", "after": 3, "error_type": "api_error", "message": "boom"}])
    response = client.post("/v1/messages", json=message_request())
    assert response.status_code == 500 and response.json()["error"] == {"type": "api_error", "message": "boom"}


def test_drop_mid_stream_is_an_incomplete_body(client, sandbox):
    sandbox.state.add_faults([{"kind": "drop", "after": 2}])
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/v1/messages", json=message_request(stream=True)) as response:
            assert response.status_code == 200
            for chunk in response.iter_text():
                received.append(chunk)
    assert "".join(received).count("event: content_block_delta") == 2


def test_drop_without_stream_is_an_incomplete_body(client, sandbox):
    sandbox.state.add_faults([{"kind": "drop"}])
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/messages", json=message_request())
    assert client.post("/v1/messages", json=message_request()).status_code == 200


def test_truncate_ends_cleanly_without_closing_events(client, sandbox):
    sandbox.state.add_faults([{"kind": "truncate", "after": 4}])
    events = parse_sse(stream(client).text)
    assert [name for name, _ in events][-1] == "content_block_delta" and len(events) == 7


def test_slow_first_byte_delays_the_headers(client, sandbox):
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 1.0}])
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/messages", json=message_request(), timeout=httpx.Timeout(5, read=0.1))
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 0.2}])
    started = time.monotonic()
    assert client.post("/v1/messages", json=message_request()).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_stall_between_chunks_trips_a_read_timeout(client, sandbox):
    sandbox.state.add_faults([{"kind": "stall", "after": 2, "seconds": 1.0}])
    received = []
    with pytest.raises(httpx.ReadTimeout):
        with client.stream("POST", "/v1/messages", json=message_request(stream=True),
                           timeout=httpx.Timeout(5, read=0.2)) as response:
            assert response.status_code == 200
            for chunk in response.iter_text():
                received.append(chunk)
    assert "".join(received).count("event: content_block_delta") == 2


def test_short_stall_then_the_stream_completes(client, sandbox):
    sandbox.state.add_faults([{"kind": "stall", "after": 1, "seconds": 0.05}])
    events = parse_sse(stream(client).text)
    assert events[-1][0] == "message_stop" and streamed_text(events)


def test_header_fault_wins_and_leaves_the_queue(client, sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 500}])
    header = {"x-sandbox-fault": json.dumps({"kind": "status", "status": 429})}
    assert client.post("/v1/messages", json=message_request(), headers=header).status_code == 429
    assert client.post("/v1/messages", json=message_request()).status_code == 500
    assert client.post("/v1/messages", json=message_request()).status_code == 200


def test_faults_queue_in_order_over_http(client):
    queued = client.post("/_sandbox/faults", json={"faults": [{"kind": "status", "status": 529},
                                                              {"kind": "status", "status": 503}]})
    assert queued.json() == {"queued": 2}
    codes = [client.post("/v1/messages", json=message_request()).status_code for _ in range(3)]
    assert codes == [529, 503, 200]


def test_clearing_faults_over_http(client, sandbox):
    client.post("/_sandbox/faults", json={"faults": [{"kind": "status", "status": 529}]})
    assert client.delete("/_sandbox/faults").status_code == 200
    assert len(sandbox.state.faults) == 0
    assert client.post("/v1/messages", json=message_request()).status_code == 200


def test_invalid_requests_do_not_use_up_a_fault(client, sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 529}])
    assert client.post("/v1/messages", json=message_request(max_tokens=0)).status_code == 400
    assert client.post("/v1/messages", json=message_request()).status_code == 529


def test_bad_fault_specs_are_rejected_and_queue_nothing(client, sandbox):
    response = client.post("/_sandbox/faults", json={"faults": [{"kind": "drop"}, {"kind": "meteor"}]})
    assert response.status_code == 400 and "unknown fault kind" in response.json()["error"]["message"]
    assert len(sandbox.state.faults) == 0
    bad_header = client.post("/v1/messages", json=message_request(), headers={"x-sandbox-fault": "{oops"})
    assert bad_header.status_code == 400 and "x-sandbox-fault" in bad_header.json()["error"]["message"]


@pytest.mark.parametrize("spec", [
    "drop", {"kind": "status"}, {"kind": "status", "status": 200}, {"kind": "stall", "after": 1},
    {"kind": "drop", "after": -1}, {"kind": "status", "status": 429, "should_retry": "yes"},
])
def test_parse_fault_rejects(spec):
    with pytest.raises(FaultSpecError):
        parse_fault(spec)
