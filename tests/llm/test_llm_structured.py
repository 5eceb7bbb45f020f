"""Structured output over real loopback HTTP against the sandbox: forced tool use,
validation, one repair, then a clear error."""

from __future__ import annotations

from enum import StrEnum

import pytest
from pydantic import BaseModel, Field

from chatbot.errors import ChatbotError
from chatbot.llm import ChatRequest, Turn
from chatbot.llm.cache import MemoryCache, cache_key
from chatbot.llm.errors import BadRequest, StructuredOutputError
from chatbot.llm.structured import structured, tool_for

MODEL = "claude-haiku-5-5"
CONVERSATION = "Customer: My parcel never arrived and I want a refund\nAssistant: Sorry to hear that."


class Mood(StrEnum):
    HAPPY = "happy"
    UPSET = "upset"


class Contact(BaseModel):
    channel: str
    reachable: bool


class Ticket(BaseModel):
    """Record a ticket."""

    issue: str = Field(min_length=1, max_length=200)
    mood: Mood
    priority: int = Field(ge=1, le=5)
    contact: Contact
    note: str | None = None
    next_steps: list[str] = Field(max_length=4)


def ask(text: str = CONVERSATION) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[Turn("user", text)], max_tokens=500)


def test_valid_first_time_forces_the_tool_with_the_pydantic_schema(client, sandbox):
    seen = []
    result = structured(client, ask(), Ticket, tool_name="record_ticket", on_attempt=seen.append)

    assert isinstance(result.value, Ticket)
    assert result.value.issue.endswith("My parcel never arrived and I want a refund")
    assert 1 <= result.value.priority <= 5 and result.value.next_steps
    assert [a.problem for a in result.attempts] == [None] and seen == result.attempts
    assert result.reply.stop_reason == "tool_use" and result.usage.output_tokens > 0
    (request,) = sandbox.state.requests()
    body = request["body"]
    assert body["tools"] == [
        {"name": "record_ticket", "description": "Record a ticket.", "input_schema": Ticket.model_json_schema()}
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "record_ticket"}
    assert "stream" not in body


def test_invalid_output_is_repaired_with_an_error_tool_result(client, sandbox):
    sandbox.state.add_faults([{"kind": "bad_tool_input"}])

    result = structured(client, ask(), Ticket)

    first, second = result.attempts
    assert "issue: Field required" in first.problem and second.problem is None
    assert result.value.mood in Mood
    assert result.usage.input_tokens == first.reply.usage.input_tokens + second.reply.usage.input_tokens
    repair = sandbox.state.requests()[1]["body"]["messages"]
    (call,) = first.reply.tool_uses
    assert repair[0] == {"role": "user", "content": CONVERSATION}
    assert repair[1] == {"role": "assistant", "content": [call.to_block()]}
    result_block, nudge = repair[2]["content"]
    assert result_block["type"] == "tool_result" and result_block["tool_use_id"] == call.id
    assert result_block["is_error"] is True and "issue: Field required" in result_block["content"]
    assert nudge["type"] == "text"


def test_invalid_twice_raises_a_clear_error_with_both_calls(client, sandbox):
    sandbox.state.add_faults([{"kind": "bad_tool_input"}, {"kind": "bad_tool_input"}])

    with pytest.raises(StructuredOutputError) as caught:
        structured(client, ask(), Ticket)

    error = caught.value
    assert isinstance(error, ChatbotError) and error.error_type == "invalid_output"
    assert "Try again" in error.user_message and "issue" not in error.user_message
    assert len(error.structured_attempts) == error.attempts == 2
    assert all(a.problem for a in error.structured_attempts)
    assert len(sandbox.state.requests()) == 2  # one repair, never more


def test_api_errors_are_the_clients_and_transient_ones_are_retried(client, sandbox, sleeps):
    sandbox.state.add_faults([{"kind": "status", "status": 400, "message": "bad tools"}])
    with pytest.raises(BadRequest):
        structured(client, ask(), Ticket)

    sandbox.state.add_faults([{"kind": "status", "status": 529}])
    result = structured(client, ask(), Ticket)
    assert result.reply.attempts == 2 and len(sleeps.calls) == 1  # the client's retry policy


def test_a_bad_tool_definition_is_refused_by_the_api(client):
    class Odd(BaseModel):
        x: int

    with pytest.raises(BadRequest, match="name: String should match pattern"):
        structured(client, ask(), Odd, tool_name="   ")


def test_tools_are_part_of_the_cache_key_and_tool_replies_are_not_cached(make_client, sandbox):
    plain = ask()
    forced = ChatRequest(model=MODEL, messages=plain.messages, max_tokens=500,
                         tools=(tool_for(Ticket),), tool_choice={"type": "tool", "name": "record_Ticket"})
    auto = ChatRequest(model=MODEL, messages=plain.messages, max_tokens=500,
                       tools=(tool_for(Ticket),), tool_choice={"type": "auto"})
    assert len({cache_key(plain), cache_key(forced), cache_key(auto)}) == 3
    client = make_client()
    client.cache = MemoryCache()

    assert client.create(plain).text  # a text answer, now cached
    first = structured(client, ask(), Ticket)
    again = structured(client, ask(), Ticket)

    assert not first.reply.cache_hit and not again.reply.cache_hit
    assert len(sandbox.state.requests()) == 3


def test_a_streamed_tool_call_is_accumulated(client):
    request = ChatRequest(model=MODEL, messages=[Turn("user", CONVERSATION)], max_tokens=500,
                          tools=(tool_for(Ticket),), tool_choice={"type": "any"})
    with client.stream(request) as stream:
        assert list(stream) == []  # no text at all
        reply = stream.result
    (call,) = reply.tool_uses
    assert reply.stop_reason == "tool_use" and reply.status == "complete"
    assert Ticket.model_validate(call.input).contact.reachable is False


def test_to_body_sends_tools_and_block_turns():
    blocks = [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]
    request = ChatRequest(model=MODEL, messages=[Turn("user", "hi"), Turn("assistant", "x"), Turn("user", blocks)],
                          tools=({"name": "t", "input_schema": {"type": "object"}},),
                          tool_choice={"type": "auto"})
    body = request.to_body(stream=False)
    assert body["tools"] == [{"name": "t", "input_schema": {"type": "object"}}]
    assert body["tool_choice"] == {"type": "auto"} and body["messages"][2]["content"] == blocks
    assert request.input_tokens_estimate > ChatRequest(model=MODEL, messages=[Turn("user", "hi")]).input_tokens_estimate
