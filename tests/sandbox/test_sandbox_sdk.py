"""The official anthropic SDK, unchanged, against the sandbox: the wire protocol check."""

from __future__ import annotations

import anthropic
import pytest
from sandbox_helpers import MODEL

SYSTEM = "You are a support assistant for Acme Co."
MESSAGES = [{"role": "user", "content": "I need a refund for my order"}]


@pytest.fixture
def sdk(sandbox):
    with anthropic.Anthropic(api_key="sk-test", base_url=sandbox.base_url, max_retries=0) as client:
        yield client


def test_create(sdk):
    message = sdk.messages.create(model=MODEL, max_tokens=300, system=SYSTEM, messages=MESSAGES)
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert "Acme Co." in message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message._request_id.startswith("req_")


def test_stream_text_and_final_message(sdk):
    expected = sdk.messages.create(model=MODEL, max_tokens=300, system=SYSTEM, messages=MESSAGES)
    with sdk.messages.stream(model=MODEL, max_tokens=300, system=SYSTEM, messages=MESSAGES) as stream:
        chunks = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(chunks) > 10
    assert "".join(chunks) == final.content[0].text == expected.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == expected.usage.input_tokens
    assert final.usage.output_tokens == expected.usage.output_tokens


def test_stream_stopped_by_max_tokens(sdk):
    with sdk.messages.stream(model=MODEL, max_tokens=4, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.usage.output_tokens) == ("max_tokens", 4)


def test_count_tokens_and_models(sdk):
    assert sdk.messages.count_tokens(model=MODEL, system=SYSTEM, messages=MESSAGES).input_tokens > 0
    assert [model.id for model in sdk.models.list()][:2] == ["claude-sonnet-5-5", "claude-haiku-5-5"]
    assert sdk.models.retrieve("claude-haiku-4-5").display_name == "Claude Haiku 4.5"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (429, anthropic.RateLimitError),
        (529, getattr(anthropic, "OverloadedError", anthropic.InternalServerError)),
        (500, anthropic.InternalServerError),
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
    ],
)
def test_status_faults_map_to_sdk_errors(sdk, sandbox, status, error_class):
    sandbox.state.add_faults([{"kind": "status", "status": status}])
    with pytest.raises(error_class) as caught:
        sdk.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
    assert caught.value.status_code == status
    assert caught.value.request_id.startswith("req_")
    assert caught.value.body["request_id"] == caught.value.request_id


def test_validation_error_reaches_the_sdk(sdk):
    with pytest.raises(anthropic.BadRequestError, match="roles must alternate"):
        sdk.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES + MESSAGES)
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.create(model="claude-0", max_tokens=50, messages=MESSAGES)


def test_error_event_mid_stream_raises_in_the_sdk(sdk, sandbox):
    sandbox.state.add_faults([{"kind": "error_event", "after": 2}])
    received = []
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with sdk.messages.stream(model=MODEL, max_tokens=300, messages=MESSAGES) as stream:
            received.extend(stream.text_stream)
    assert len(received) == 2


def test_retrying_sdk_gets_through_after_a_retryable_fault(sandbox):
    sandbox.state.add_faults([{"kind": "status", "status": 529, "retry_after_ms": "1"}])
    with anthropic.Anthropic(api_key="sk-test", base_url=sandbox.base_url, max_retries=1) as client:
        assert client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES).content
    assert len(sandbox.state.requests()) == 2
