"""Client tools in the sandbox: validating `tools` and `tool_choice` as the API does, and
answering with a `tool_use` block when the request forces a tool.

Only a forced choice (`{"type": "tool", "name": ...}` or `{"type": "any"}`) calls a tool;
with `auto` (the default) or `none` the sandbox answers in text as before, so a chat that
merely offers tools behaves deterministically. The input is invented from the tool's
schema (`schema_fill`), or deliberately broken under the `bad_tool_input` fault.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, invalid_request
from .replies import count_tokens, input_tokens
from .schema_fill import corrupt, fill, hints_from

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
CHOICE_TYPES = ("auto", "any", "tool", "none")


@dataclass(frozen=True)
class ToolAnswer:
    """The tool call a reply makes instead of text."""

    id: str
    name: str
    input: Any
    output_tokens: int

    def block(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


def check_tools(tools: Any) -> ApiError | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return invalid_request("tools: Input should be a valid list")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        error = _check_tool(f"tools.{index}", tool)
        if error:
            return error
        if tool["name"] in names:
            return invalid_request("tools: Tool names must be unique.")
        names.add(tool["name"])
    return None


def _check_tool(where: str, tool: Any) -> ApiError | None:
    if not isinstance(tool, dict):
        return invalid_request(f"{where}: Input should be a valid dictionary")
    if tool.get("type") not in (None, "custom"):
        # Server tools (web search, code execution...) run at Anthropic: not imitated here.
        return invalid_request(f"{where}.type: the sandbox supports custom tools only, got {tool['type']!r}")
    where = f"{where}.custom"
    if "name" not in tool:
        return invalid_request(f"{where}.name: Field required")
    if not isinstance(tool["name"], str) or not TOOL_NAME.match(tool["name"]):
        return invalid_request(f"{where}.name: String should match pattern '{TOOL_NAME.pattern}'")
    if "description" in tool and not isinstance(tool["description"], str):
        return invalid_request(f"{where}.description: Input should be a valid string")
    if "input_schema" not in tool:
        return invalid_request(f"{where}.input_schema: Field required")
    schema = tool["input_schema"]
    if not isinstance(schema, dict):
        return invalid_request(f"{where}.input_schema: Input should be a valid dictionary")
    if schema.get("type") != "object":
        return invalid_request(f"{where}.input_schema.type: Input should be 'object'")
    return None


def check_tool_choice(choice: Any, tools: Any) -> ApiError | None:
    if choice is None:
        return None
    if not isinstance(choice, dict):
        return invalid_request("tool_choice: Input should be a valid dictionary")
    kind = choice.get("type")
    if kind not in CHOICE_TYPES:
        expected = ", ".join(f"'{t}'" for t in CHOICE_TYPES)
        return invalid_request(
            f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}"
        )
    if "disable_parallel_tool_use" in choice and not isinstance(choice["disable_parallel_tool_use"], bool):
        return invalid_request(f"tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean")
    if kind == "tool" and not isinstance(choice.get("name"), str):
        return invalid_request("tool_choice.tool.name: Field required")
    if kind in ("any", "tool") and not tools:
        return invalid_request("tool_choice: tool_choice may only be specified while providing tools.")
    if kind == "tool" and choice["name"] not in {t["name"] for t in tools}:
        return invalid_request(f"tool_choice: Tool '{choice['name']}' not found in 'tools'.")
    return None


def check_tool_pairs(messages: list[dict[str, Any]]) -> ApiError | None:
    """Every tool_use answered by a tool_result in the next message, and no stray result."""
    for index, message in enumerate(messages):
        uses = _ids(message, "tool_use", "id") if message["role"] == "assistant" else []
        following = messages[index + 1] if index + 1 < len(messages) else None
        if uses and following is not None:
            missing = [i for i in uses if i not in _ids(following, "tool_result", "tool_use_id")]
            if missing:
                return invalid_request(
                    f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
        if message["role"] == "user":
            previous = messages[index - 1] if index else None
            known = _ids(previous, "tool_use", "id") if previous else []
            stray = [i for i in _ids(message, "tool_result", "tool_use_id") if i not in known]
            if stray:
                return invalid_request(
                    f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {', '.join(stray)}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )
    return None


def _ids(message: dict[str, Any], block_type: str, field: str) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [
        str(block.get(field)) for block in content
        if isinstance(block, dict) and block.get("type") == block_type
    ]


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool a validated request makes the model call, or None for a text answer."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    if not tools or choice["type"] in ("auto", "none"):
        return None
    if choice["type"] == "tool":
        return next(t for t in tools if t["name"] == choice["name"])
    return tools[0]


def answer(body: dict[str, Any], *, bad_input: bool = False) -> ToolAnswer | None:
    """The tool call for `body`, or None when it should be answered in text."""
    tool = forced_tool(body)
    if tool is None:
        return None
    schema = tool["input_schema"]
    value = fill(schema, hints_from(body["messages"]))
    if bad_input:
        value = corrupt(value, schema)
    tokens = count_tokens(json.dumps(value))
    return ToolAnswer("toolu_" + secrets.token_hex(12), tool["name"], value, tokens)


def prompt_tokens(body: dict[str, Any]) -> int:
    """A validated request's input tokens: what the reply composer counts (system and text
    blocks) plus what tools add, their definitions and the tool blocks in the turns."""
    total = input_tokens(body.get("system"), body["messages"])
    if body.get("tools"):
        total += count_tokens(json.dumps(body["tools"]))
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, list):
            blocks = [b for b in content if isinstance(b, dict) and b.get("type") in ("tool_use", "tool_result")]
            total += count_tokens(json.dumps(blocks)) if blocks else 0
    return total
