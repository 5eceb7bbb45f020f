"""The backend client over real HTTP against the loopback sandbox, fault by fault."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from chatbot.llm import ChatRequest, ClientSettings, LLMClient, Secret, Timeouts, Turn
from chatbot.llm import errors
from chatbot.llm.retry import error_from_response, is_retryable, parse_retry_after, retry_delay

SYSTEM = "You are a customer support assistant for Globex Corp. Your name is Sam."


def request(text: str = "Where is my order #1042?", **kw) -> ChatRequest:
    return ChatRequest(
        model="claude-sonnet-4-5", messages=[Turn("user", text)], system=SYSTEM, max_tokens=300, **kw
    )


def drain(stream) -> list[str]:
    with stream:
        return list(stream)


# -- happy paths ------------------------------------------------------------------------


def test_stream_yields_deltas_and_a_complete_result(client, sandbox):
    stream = client.stream(request())
    deltas = drain(stream)
    result = stream.result
    assert len(deltas) > 10
    assert result.text == "".join(deltas)
    assert "Globex Corp" in result.text
    assert result.complete and result.error is None and result.status == "complete"
    assert result.stop_reason == "end_turn"
    assert result.model == "claude-sonnet-4-5"
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.request_id and result.request_id.startswith("req_")
    assert result.ttft is not None and 0 <= result.ttft <= result.total
    assert result.attempts == 1
    sent = sandbox.state.requests()[-1]
    assert sent["body"]["stream"] is True
    assert sent["body"]["system"] == SYSTEM
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["has_key"] is True


def test_create_matches_the_stream(client):
    reply = client.create(request())
    streamed = client.stream(request())
    drain(streamed)
    assert reply.complete and reply.text == streamed.result.text
    assert reply.usage.output_tokens == streamed.result.usage.output_tokens
    assert reply.request_id.startswith("req_")


def test_body_carries_every_setting(client, sandbox):
    client.create(
        ChatRequest(
            model="claude-haiku-4-5",
            messages=[Turn("user", "Hi"), Turn("assistant", "Hello!"), Turn("user", "Refund?")],
            system="sys",
            max_tokens=50,
            temperature=0.2,
            stop_sequences=["STOP"],
            metadata={"user_id": "abc"},
        )
    )
    body = sandbox.state.requests()[-1]["body"]
    assert body["messages"][1] == {"role": "assistant", "content": "Hello!"}
    assert (body["temperature"], body["stop_sequences"], body["metadata"]) == (0.2, ["STOP"], {"user_id": "abc"})
    assert "stream" not in body


def test_max_tokens_and_stop_reason(client):
    stream = client.stream(request(max_tokens=300) if False else ChatRequest(
        model="claude-sonnet-4-5", messages=[Turn("user", "Hello")], max_tokens=5))
    drain(stream)
    assert stream.result.stop_reason == "max_tokens"
    assert stream.result.complete


def test_count_tokens_and_models(client):
    assert client.count_tokens(request()) > 5
    ids = {m["id"] for m in client.list_models()}
    assert "claude-sonnet-4-5" in ids


# -- retries before the first token ------------------------------------------------------


@pytest.mark.parametrize(
    "status,error_class",
    [(429, errors.RateLimited), (529, errors.Overloaded), (500, errors.ServerError),
     (503, errors.ServerError), (502, errors.ServerError), (504, errors.ServerError),
     (408, errors.ServerError), (409, errors.ServerError)],
)
def test_transient_status_is_retried_then_succeeds(client, sandbox, sleeps, status, error_class):
    sandbox.state.add_faults([{"kind": "status", "status": status}])
    stream = client.stream(request())
    assert drain(stream)
    assert stream.result.attempts == 2
    assert stream.result.complete
    assert len(sleeps.calls) == 1 and 0 < sleeps.calls[0] <= 0.5


def test_retry_after_seconds_is_honoured(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 429, "retry_after": "7"}])
    client.create(request())
    assert sleeps.calls == [7.0]


def test_retry_after_ms_wins_over_retry_after(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 529, "retry_after": "9", "retry_after_ms": "250"}])
    drain(client.stream(request()))
    assert sleeps.calls == [0.25]


def test_retry_after_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = parse_retry_after({"retry-after": when}, now=time.time())
    assert 28 <= wait <= 30
    assert parse_retry_after({"retry-after": "garbage"}, now=time.time()) is None


def test_retry_after_beyond_the_limit_fails_at_once(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 429, "retry_after": "3600"}])
    with pytest.raises(errors.RateLimited) as info:
        client.create(request())
    assert sleeps.calls == [] and info.value.attempts == 1


def test_gives_up_after_max_attempts_with_an_actionable_message(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 529}] * 3)
    stream = client.stream(request())
    with pytest.raises(errors.Overloaded) as info:
        drain(stream)
    error = info.value
    assert error.attempts == 3 and len(sleeps.calls) == 2
    assert error.user_message.startswith("The assistant is overloaded; tried 3 times over")
    assert "Try again in a minute" in error.user_message
    assert error.status == 529 and error.error_type == "overloaded_error"
    assert error.request_id and error.request_id.startswith("req_")
    assert "request_id=req_" in str(error)
    assert stream.result.status == "error" and stream.result.error is error
    # backoff grows
    assert sleeps.calls[1] > sleeps.calls[0]


def test_attempts_are_configurable(make_client, sandbox, sleeps):
    client = make_client(max_attempts=1)
    sandbox.state.add_faults([{"kind": "status", "status": 500}])
    with pytest.raises(errors.ServerError):
        client.create(request())
    assert sleeps.calls == []


@pytest.mark.parametrize(
    "status,error_class",
    [(400, errors.BadRequest), (401, errors.AuthenticationFailed), (403, errors.PermissionDenied),
     (404, errors.NotFound), (413, errors.RequestTooLarge)],
)
def test_client_errors_are_never_retried(client, sandbox, sleeps, status, error_class):
    sandbox.state.add_faults([{"kind": "status", "status": status}])
    with pytest.raises(error_class) as info:
        drain(client.stream(request()))
    assert sleeps.calls == [] and info.value.attempts == 1
    assert info.value.status == status
    assert len(sandbox.state.requests()) == 1


def test_spend_limit_429_is_not_retried(client, sandbox, sleeps):
    sandbox.state.add_faults([{
        "kind": "status", "status": 429,
        "message": "You have reached your specified workspace spend limit.",
    }])
    with pytest.raises(errors.SpendLimitReached) as info:
        client.create(request())
    assert sleeps.calls == []
    assert "spend limit" in info.value.user_message


def test_x_should_retry_header_overrides_the_status(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 400, "should_retry": True}])
    assert client.create(request()).complete
    assert len(sleeps.calls) == 1
    sandbox.state.add_faults([{"kind": "status", "status": 529, "should_retry": False}])
    with pytest.raises(errors.Overloaded):
        client.create(request())
    assert len(sleeps.calls) == 1


def test_real_api_validation_error_is_a_bad_request(client):
    with pytest.raises(errors.BadRequest) as info:
        client.create(ChatRequest(model="claude-sonnet-4-5", messages=[Turn("assistant", "hi")]))
    assert "user" in info.value.message
    with pytest.raises(errors.NotFound):
        client.create(ChatRequest(model="claude-nonexistent", messages=[Turn("user", "hi")]))


def test_wrong_key_is_authentication_failed(sandbox_server):
    from chatbot.sandbox import SandboxServer

    with SandboxServer(api_key="right-key") as strict:
        client = LLMClient(ClientSettings(api_key=Secret("wrong-key"), base_url=strict.base_url))
        with pytest.raises(errors.AuthenticationFailed) as info:
            client.create(request())
        assert "ANTHROPIC_API_KEY" in info.value.user_message
        client.close()


def test_missing_key_is_a_configuration_error(sandbox):
    client = LLMClient(ClientSettings(base_url=sandbox.base_url))
    with pytest.raises(errors.ConfigurationError):
        client.create(request())
    assert sandbox.state.requests() == []


def test_error_event_before_first_delta_is_retried(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "error_event", "after": 0}])
    stream = client.stream(request())
    assert drain(stream)
    assert stream.result.complete and stream.result.attempts == 2


def test_drop_before_first_delta_is_retried(client, sandbox):
    sandbox.state.add_faults([{"kind": "drop", "after": 0}])
    stream = client.stream(request())
    assert drain(stream) and stream.result.attempts == 2


def test_connection_refused_is_retried_then_fails(sleeps):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = LLMClient(
        ClientSettings(api_key=Secret("k"), base_url=f"http://127.0.0.1:{port}"), sleep=sleeps
    )
    with pytest.raises(errors.ConnectionFailed) as info:
        client.create(request())
    assert info.value.attempts == 3 and len(sleeps.calls) == 2
    assert "Could not reach the assistant; tried 3 times" in info.value.user_message
    client.close()


# -- failures after the first token: never retried, kept as partial ------------------------


def test_error_event_mid_stream_keeps_partial_text(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "error_event", "after": 4}])
    stream = client.stream(request())
    seen: list[str] = []
    with pytest.raises(errors.StreamErrorEvent) as info:
        with stream:
            for text in stream:
                seen.append(text)
    assert len(seen) == 4
    assert stream.result.text == "".join(seen)
    assert stream.result.status == "partial"
    assert info.value.error_type == "overloaded_error"
    assert info.value.request_id == stream.result.request_id
    assert sleeps.calls == [] and len(sandbox.state.requests()) == 1


def test_dropped_connection_mid_stream_is_partial(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "drop", "after": 3}])
    stream = client.stream(request())
    seen: list[str] = []
    with pytest.raises(errors.StreamInterrupted):
        with stream:
            for text in stream:
                seen.append(text)
    assert len(seen) == 3 and stream.result.status == "partial"
    assert sleeps.calls == []


def test_stream_ending_without_message_stop_is_partial(client, sandbox):
    sandbox.state.add_faults([{"kind": "truncate", "after": 5}])
    stream = client.stream(request())
    with pytest.raises(errors.StreamInterrupted) as info:
        drain(stream)
    assert stream.result.status == "partial" and not stream.result.complete
    assert len(stream.result.text) > 0
    assert "cut off" in info.value.user_message


def test_read_timeout_between_chunks(make_client, sandbox):
    client = make_client(timeouts=Timeouts(read=0.2), max_attempts=1)
    sandbox.state.add_faults([{"kind": "stall", "after": 2, "seconds": 1.0}])
    stream = client.stream(request())
    with pytest.raises(errors.StreamInterrupted):
        drain(stream)
    assert stream.result.status == "partial"


def test_slow_first_byte_times_out_and_is_retried(make_client, sandbox, sleeps):
    client = make_client(timeouts=Timeouts(read=0.2))
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 1.0}])
    stream = client.stream(request())
    assert drain(stream)
    assert stream.result.attempts == 2 and len(sleeps.calls) == 1


def test_slow_first_byte_every_time_gives_a_timeout_error(make_client, sandbox):
    client = make_client(timeouts=Timeouts(read=0.1), max_attempts=2)
    sandbox.state.add_faults([{"kind": "slow_first_byte", "seconds": 0.5}] * 2)
    with pytest.raises(errors.Timeout) as info:
        drain(client.stream(request()))
    assert "took too long" in info.value.user_message


def test_consumer_stopping_early_closes_the_stream(client):
    stream = client.stream(request())
    with stream:
        for _ in stream:
            break
    assert stream.result.status == "partial"
    # the pool is healthy afterwards
    assert client.create(request()).complete


# -- pure policy ------------------------------------------------------------------------


def test_error_classification_reads_the_api_error_body():
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}'
    error = error_from_response(529, {}, body, now=0)
    assert isinstance(error, errors.Overloaded) and error.request_id == "req_1"
    assert isinstance(error_from_response(599, {}, b"not json", now=0), errors.ServerError)


def test_backoff_has_jitter_and_a_cap():
    settings = ClientSettings(backoff_initial=0.5, backoff_max=4.0)
    rng = random.Random(1)
    delays = [retry_delay(None, n, settings, rng) for n in range(1, 8)]
    assert all(d <= 4.0 for d in delays)
    assert delays[0] <= 0.5 and delays[0] >= 0.375
    assert not is_retryable(ValueError("not ours"), settings)


def test_system_prompt_marked_for_caching_is_accepted(client, sandbox):
    reply = client.create(ChatRequest(
        model="claude-sonnet-5-5", messages=[Turn("user", "hi")], system=SYSTEM, cache_system=True
    ))
    assert reply.complete and "Globex" in reply.text  # the sandbox read the block's text
    sent = sandbox.state.requests()[-1]["body"]["system"]
    assert sent[0]["cache_control"] == {"type": "ephemeral"}
