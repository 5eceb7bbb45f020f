"""Request builders and an SSE reader shared by the sandbox tests."""

from __future__ import annotations

import json

HEADERS = {"x-api-key": "sk-test-secret", "anthropic-version": "2023-06-01"}
MODEL = "claude-haiku-4-5"


def message_request(text: str = "Where is my order?", **overrides) -> dict:
    return {"model": MODEL, "max_tokens": 300, "messages": [{"role": "user", "content": text}], **overrides}


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """(event name, data) pairs; every event must end with a blank line."""
    assert text == "" or text.endswith("\n\n"), text[-80:]
    events = []
    for block in text.split("\n\n")[:-1]:
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def streamed_text(events: list[tuple[str, dict]]) -> str:
    return "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
