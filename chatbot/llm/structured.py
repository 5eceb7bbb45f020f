"""Structured output: a call whose answer is JSON matching a pydantic model.

The schema goes to the API as the input schema of one tool, and `tool_choice` forces the
model to call it, so the answer arrives as the tool's `input` rather than as prose to parse.
The input is validated with pydantic. Models sometimes get a schema slightly wrong (a
missing field, a value outside an enum), so one repair call follows: the conversation is
replayed with the model's tool call and a `tool_result` marked `is_error` that lists the
validation errors, which is how the API expects a tool's failure to be reported. A second
failure raises `StructuredOutputError`.

    result = structured(client, ChatRequest(model=..., messages=[Turn("user", text)]), Ticket)
    result.value          # a validated Ticket
    result.usage          # tokens of every call made, repair included

Calls go through `LLMClient.create`, so retries, rate limits and error mapping are the
client's, never repeated here. `on_attempt` sees each call as it completes, so a caller
can record the cost of every call even when a later one fails.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .client import LLMClient
from .errors import StructuredOutputError
from .types import ChatRequest, Reply, ToolUse, Turn, Usage

log = logging.getLogger("chatbot.llm.structured")
M = TypeVar("M", bound=BaseModel)

# What the repair message may quote of the validation report: enough to fix it, no more.
_MAX_PROBLEM_CHARS = 2000
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class Attempt:
    """One call made for a structured answer and why its output was refused, if it was."""

    reply: Reply
    problem: str | None = None  # None: the output validated


@dataclass(frozen=True)
class StructuredResult(Generic[M]):
    value: M
    attempts: list[Attempt]

    @property
    def reply(self) -> Reply:
        """The call whose output was accepted."""
        return self.attempts[-1].reply

    @property
    def usage(self) -> Usage:
        """Tokens summed over every call, the refused ones included (they were billed)."""
        return sum_usage(a.reply.usage for a in self.attempts)


def sum_usage(usages: Any) -> Usage:
    total = Usage()
    for usage in usages:
        for name in (f.name for f in dataclasses.fields(Usage)):
            setattr(total, name, getattr(total, name) + getattr(usage, name))
    return total


def tool_for(schema: type[BaseModel], *, name: str | None = None, description: str | None = None) -> dict[str, Any]:
    """The tool definition that carries `schema`: its name, description and JSON schema."""
    tool_name = _TOOL_NAME.sub("_", name or f"record_{schema.__name__}").strip("_")[:64]
    doc = description or (schema.__doc__ or "").strip() or f"Record a {schema.__name__}."
    return {"name": tool_name, "description": doc, "input_schema": schema.model_json_schema()}


def structured(
    client: LLMClient,
    request: ChatRequest,
    schema: type[M],
    *,
    tool_name: str | None = None,
    description: str | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> StructuredResult[M]:
    """Ask for an answer shaped like `schema`: one call, at most one repair call.

    Raises the client's `LLMError`s as they are, and `StructuredOutputError` when the
    repaired answer is still invalid.
    """
    tool = tool_for(schema, name=tool_name, description=description)
    forced = dataclasses.replace(
        request, tools=(tool,), tool_choice={"type": "tool", "name": tool["name"]}
    )
    attempts: list[Attempt] = []

    def call(req: ChatRequest) -> tuple[M | None, Attempt, ToolUse | None]:
        reply = client.create(req)
        value, problem, used = parse(reply, schema, tool["name"])
        attempt = Attempt(reply, problem)
        attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)
        return value, attempt, used

    value, first, used = call(forced)
    if value is not None:
        return StructuredResult(value, attempts)
    log.warning("structured output refused, asking for a repair: %s", first.problem)
    value, second, _ = call(repair_request(forced, first.reply, used, first.problem or ""))
    if value is not None:
        return StructuredResult(value, attempts)
    raise StructuredOutputError(
        f"the model's {tool['name']} input failed validation twice: {second.problem}",
        problem=second.problem or "",
        attempts=attempts,
    )


def parse(reply: Reply, schema: type[M], tool_name: str) -> tuple[M | None, str | None, ToolUse | None]:
    """(value, None, call) when the reply's call of `tool_name` validates, else
    (None, what is wrong, the call if there was one)."""
    used = next((t for t in reply.tool_uses if t.name == tool_name), None)
    if used is None:
        return None, f"No call of the {tool_name} tool in the reply (stop reason {reply.stop_reason}).", None
    try:
        value = schema.model_validate(used.input)
    except ValidationError as error:
        return None, _report(error, reply), used
    return value, None, used


def _report(error: ValidationError, reply: Reply) -> str:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(the whole input)"
        lines.append(f"- {where}: {item['msg']}")
    text = "The tool input does not match the schema:\n" + "\n".join(lines)
    if reply.stop_reason == "max_tokens":
        text += "\nThe answer was cut off at max_tokens: keep every field short."
    return text[:_MAX_PROBLEM_CHARS]


def repair_request(request: ChatRequest, reply: Reply, used: ToolUse | None, problem: str) -> ChatRequest:
    """The request again, followed by the refused answer and the reasons it was refused.

    With a tool call to answer, the reasons go back as its `tool_result` (`is_error`), and
    every other call of the reply gets a result too, as the API requires. Without one
    (cut off before the call began) the request is only repeated: there is no assistant
    turn to reply to, and asking again is the only repair.
    """
    if used is None:
        return request
    assistant: list[dict[str, Any]] = []
    if reply.text.strip():
        assistant.append({"type": "text", "text": reply.text})
    assistant.extend(call.to_block() for call in reply.tool_uses)
    results = [
        {
            "type": "tool_result",
            "tool_use_id": call.id,
            "is_error": True,
            "content": problem if call.id == used.id else "Not used: call only the requested tool.",
        }
        for call in reply.tool_uses
    ]
    results.append({"type": "text", "text": "Call the tool again with input that fixes every error listed."})
    messages = [*request.messages, Turn("assistant", assistant), Turn("user", results)]
    return dataclasses.replace(request, messages=messages)
