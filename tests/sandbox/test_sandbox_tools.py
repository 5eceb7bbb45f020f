"""Client tools in the sandbox: forced tool_use replies on the wire (plain httpx and the
official SDK), tool validation as the API does it, the bad_tool_input fault, and the
schema-driven input generator."""

from __future__ import annotations

import json
from enum import StrEnum

import anthropic
import pytest
from pydantic import BaseModel, Field, ValidationError
from sandbox_helpers import MODEL, message_request, parse_sse

from chatbot.sandbox.schema_fill import corrupt, fill, hints_from


class Category(StrEnum):
    BILLING = "billing"
    SHIPPING = "shipping"
    RETURNS = "returns"
    OTHER = "other"


class Sentiment(StrEnum):
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    FRUSTRATED = "frustrated"


class Summary(BaseModel):
    issue: str = Field(min_length=1, max_length=60)
    category: Category
    sentiment: Sentiment
    resolved: bool
    next_steps: list[str] = Field(min_length=1, max_length=2)
    refund_amount: float | None = None
    priority: int = Field(gt=2, le=4)


TOOL = {"name": "record_summary", "description": "Record it.", "input_schema": Summary.model_json_schema()}
FORCE = {"type": "tool", "name": "record_summary"}
TEXT = "Customer: My parcel never arrived, this is ridiculous\nAssistant: Sorry about that."


def tool_request(**overrides) -> dict:
    return message_request(TEXT, tools=[TOOL], tool_choice=FORCE, **overrides)


@pytest.fixture
def sdk(sandbox):
    with anthropic.Anthropic(api_key="sk-test", base_url=sandbox.base_url, max_retries=0) as client:
        yield client


def test_json_tool_use_reply(client):
    message = client.post("/v1/messages", json=tool_request()).json()

    assert (message["stop_reason"], message["stop_sequence"]) == ("tool_use", None)
    (block,) = message["content"]
    assert block["type"] == "tool_use" and block["name"] == "record_summary"
    assert block["id"].startswith("toolu_")
    summary = Summary.model_validate(block["input"])
    assert summary.category is Category.SHIPPING and summary.sentiment is Sentiment.FRUSTRATED
    assert summary.issue.startswith("Order or delivery problem: My parcel") and len(summary.issue) <= 60
    assert summary.resolved is False and summary.priority == 3 and len(summary.next_steps) == 2
    plain = client.post("/v1/messages", json=message_request(TEXT)).json()
    assert message["usage"]["input_tokens"] > plain["usage"]["input_tokens"]  # the tool definition counts


def test_stream_tool_use_events(client):
    response = client.post("/v1/messages", json=tool_request(stream=True))
    events = parse_sse(response.text)

    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[1][1]["content_block"]
    assert start["type"] == "tool_use" and start["input"] == {} and start["name"] == "record_summary"
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert len(deltas) > 3 and {d["type"] for d in deltas} == {"input_json_delta"}
    Summary.model_validate(json.loads("".join(d["partial_json"] for d in deltas)))
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_auto_choice_answers_in_text(client):
    message = client.post("/v1/messages", json=message_request(TEXT, tools=[TOOL])).json()
    assert message["content"][0]["type"] == "text" and message["stop_reason"] == "end_turn"


def test_sdk_parses_tool_use_with_and_without_streaming(sdk):
    kwargs = dict(model=MODEL, max_tokens=500, messages=[{"role": "user", "content": TEXT}],
                  tools=[TOOL], tool_choice=FORCE)
    message = sdk.messages.create(**kwargs)
    (block,) = message.content
    assert isinstance(block, anthropic.types.ToolUseBlock) and message.stop_reason == "tool_use"
    with sdk.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    (streamed,) = final.content
    assert streamed.type == "tool_use" and streamed.input == block.input
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == message.usage.output_tokens


def test_sdk_sends_the_tool_result_back(sdk):
    """A whole tool round trip as the docs show it is accepted."""
    first = sdk.messages.create(model=MODEL, max_tokens=500, tools=[TOOL], tool_choice=FORCE,
                                messages=[{"role": "user", "content": TEXT}])
    call = first.content[0]
    follow = sdk.messages.create(model=MODEL, max_tokens=500, tools=[TOOL], messages=[
        {"role": "user", "content": TEXT},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "saved"}]},
    ])
    assert follow.content[0].type == "text"


def test_bad_tool_input_fault_breaks_the_schema(client, sdk):
    header = {"x-sandbox-fault": json.dumps({"kind": "bad_tool_input"})}
    message = client.post("/v1/messages", json=tool_request(), headers=header).json()
    with pytest.raises(ValidationError) as caught:
        Summary.model_validate(message["content"][0]["input"])
    assert {e["loc"][0] for e in caught.value.errors()} == {"issue", "category"}
    via_sdk = sdk.messages.create(model=MODEL, max_tokens=500, tools=[TOOL], tool_choice=FORCE,
                                   messages=[{"role": "user", "content": TEXT}], extra_headers=header)
    assert "issue" not in via_sdk.content[0].input
    # On a text reply the fault is a no-op.
    plain = client.post("/v1/messages", json=message_request(TEXT), headers=header).json()
    assert plain["content"][0]["type"] == "text"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tools": {"name": "x"}}, "tools: Input should be a valid list"),
        ({"tools": [{"input_schema": {"type": "object"}}]}, "tools.0.custom.name: Field required"),
        ({"tools": [{"name": "has space", "input_schema": {"type": "object"}}]}, "tools.0.custom.name: String should match pattern"),
        ({"tools": [{"name": "t"}]}, "tools.0.custom.input_schema: Field required"),
        ({"tools": [{"name": "t", "input_schema": {"type": "string"}}]}, "tools.0.custom.input_schema.type: Input should be 'object'"),
        ({"tools": [{"name": "t", "input_schema": {"type": "object"}}] * 2}, "Tool names must be unique"),
        ({"tools": [TOOL], "tool_choice": {"type": "sometimes"}}, "does not match any of the expected tags"),
        ({"tools": [TOOL], "tool_choice": {"type": "tool"}}, "tool_choice.tool.name: Field required"),
        ({"tools": [TOOL], "tool_choice": {"type": "tool", "name": "other"}}, "Tool 'other' not found"),
        ({"tool_choice": {"type": "any"}}, "only be specified while providing tools"),
    ],
)
def test_bad_tools_are_400s(client, overrides, message):
    response = client.post("/v1/messages", json=message_request(TEXT, **overrides))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]


def test_tool_results_must_answer_the_previous_tool_use(client):
    call = {"type": "tool_use", "id": "toolu_1", "name": "record_summary", "input": {}}
    messages = [
        {"role": "user", "content": TEXT},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"}]},
    ]
    response = client.post("/v1/messages", json=message_request(messages=messages, tools=[TOOL]))
    assert response.status_code == 400
    assert "tool_use` ids were found without `tool_result`" in response.json()["error"]["message"]
    messages[2]["content"][0]["tool_use_id"] = "toolu_1"
    assert client.post("/v1/messages", json=message_request(messages=messages, tools=[TOOL])).status_code == 200


def test_count_tokens_counts_the_tools(client):
    without = client.post("/v1/messages/count_tokens", json={"model": MODEL, "messages": [{"role": "user", "content": TEXT}]})
    with_tools = client.post("/v1/messages/count_tokens", json={"model": MODEL, "messages": [{"role": "user", "content": TEXT}], "tools": [TOOL]})
    assert with_tools.json()["input_tokens"] > without.json()["input_tokens"]


# -- the generator on its own ---------------------------------------------------------------


def test_fill_handles_refs_any_of_null_and_nesting():
    class Inner(BaseModel):
        code: str = Field(min_length=5)
        tags: list[Category] = Field(min_length=2)

    class Outer(BaseModel):
        inner: Inner
        maybe: Inner | None = None
        count: int = Field(ge=10)
        constant: str = Field(json_schema_extra={"const": "fixed"})

    hints = hints_from([{"role": "user", "content": "I was charged twice on my invoice"}])
    value = fill(Outer.model_json_schema(), hints)
    outer = Outer.model_validate(value)
    assert outer.count == 10 and outer.maybe is not None and outer.inner.tags == [Category.BILLING] * 2
    assert value["constant"] == "fixed" and hints.topic == "billing" and hints.sentiment == "neutral"


def test_hints_read_a_transcript_and_corrupt_breaks_required_fields():
    hints = hints_from([{"role": "user", "content": "Agent: I need a refund\n\nAssistant: ok\n\nAgent: thanks!"}])
    assert (hints.topic, hints.resolved) == ("refund", True)
    assert hints.issue == "Refund request: I need a refund"
    schema = Summary.model_json_schema()
    broken = corrupt(fill(schema, hints), schema)
    assert "issue" not in broken and broken["category"] == {"not": "valid"}
