"""Inventing tool input that satisfies a JSON schema, for the sandbox's tool_use replies.

A small generator over the schema shapes pydantic emits (object/properties/required,
string, enum, const, boolean, integer/number, array of items, `$ref` into `$defs`,
`anyOf` with null). Text is drawn from the conversation (`Hints`): a field named like an
issue gets the customer's request, a category or sentiment enum gets the value the
conversation suggests, next steps fit the topic; so a ticket summary in sandbox mode reads
plausibly. Deterministic: the same conversation and schema give the same input.

`corrupt` makes input that breaks the schema on purpose, for the `bad_tool_input` fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .replies import classify, content_text

_LABELLED = re.compile(r"^\s*(?:customer|user|agent|client)\s*:\s*(.+)$", re.I | re.M)
_FRUSTRATED = re.compile(
    r"\b(angry|furious|ridiculous|unacceptable|frustrat\w*|worst|terrible|still (?:not|no)|again)\b"
)
_NEGATIVE = re.compile(r"\b(broken|damaged|wrong|late|missing|never|disappoint\w*|problem|not working|refund)\b")
_POSITIVE = re.compile(r"\b(thanks?|thank you|great|perfect|love|awesome|appreciate\w*)\b")
ISSUE_WORDS = 20
MAX_DEPTH = 8

# Issue prefixes and next steps by the topic `replies.classify` finds.
TOPIC_ISSUE = {
    "refund": "Refund request", "order": "Order or delivery problem", "account": "Account access",
    "cancel": "Subscription cancellation", "billing": "Billing question",
    "greeting": "General enquiry", "thanks": "Follow-up", "general": "General enquiry",
}
TOPIC_STEPS = {
    "refund": ("Confirm the order number", "Check the purchase is within the 30-day refund window", "File the refund and email a confirmation"),
    "order": ("Get the order number", "Check the carrier's tracking", "Open a trace with the carrier if it is still stuck"),
    "account": ("Send a password reset link", "Confirm the email address on the account"),
    "cancel": ("Confirm whether to cancel or pause", "Cancel the plan and confirm by email"),
    "billing": ("Get the invoice number", "Compare the charge with the plan and correct it"),
}
DEFAULT_STEPS = ("Ask the customer for the order or ticket number", "Follow up within one business day")
# Enum values to prefer for a topic, first present wins (category-like enums).
TOPIC_CATEGORIES = {
    "refund": ("returns", "refund", "refunds", "billing"),
    "order": ("shipping", "delivery", "order", "orders"),
    "account": ("account", "login", "technical"),
    "cancel": ("account", "subscription", "billing"),
    "billing": ("billing", "payment", "payments"),
}


@dataclass(frozen=True)
class Hints:
    """What the conversation suggests a summary should say."""

    issue: str
    topic: str
    sentiment: str  # positive | neutral | negative | frustrated
    resolved: bool
    steps: tuple[str, ...]


def hints_from(messages: list[dict[str, Any]]) -> Hints:
    """Hints from the user turns. A transcript pasted into one turn ("Customer: ...")
    is read line by line, so a summarising request gets the customer's words."""
    texts = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
    lines = [line for text in texts for line in _LABELLED.findall(text)] or [t for t in texts if t.strip()]
    lines = lines or ["No details given"]
    topics = [classify(line) for line in lines]
    topic = next((t for t in topics if t not in ("greeting", "thanks", "general")), topics[0])
    first = next((line for line, t in zip(lines, topics) if t == topic), lines[0])
    words = first.split()
    said = " ".join(words[:ISSUE_WORDS]) + ("…" if len(words) > ISSUE_WORDS else "")
    everything = " ".join(lines).lower()
    sentiment = (
        "frustrated" if _FRUSTRATED.search(everything)
        else "negative" if _NEGATIVE.search(everything)
        else "positive" if _POSITIVE.search(everything)
        else "neutral"
    )
    return Hints(
        issue=f"{TOPIC_ISSUE.get(topic, 'General enquiry')}: {said}",
        topic=topic,
        sentiment=sentiment,
        resolved=topics[-1] == "thanks",
        steps=TOPIC_STEPS.get(topic, DEFAULT_STEPS),
    )


def fill(schema: dict[str, Any], hints: Hints) -> Any:
    """A value that satisfies `schema` (a tool's input_schema, with its `$defs`)."""
    return _Filler(schema.get("$defs") or schema.get("definitions") or {}, hints).value(schema, "", 0)


class _Filler:
    def __init__(self, defs: dict[str, Any], hints: Hints) -> None:
        self.defs = defs
        self.hints = hints

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in self.defs:
            # Sibling keys (pydantic puts "description" beside "$ref") stay visible.
            return {**self.defs[ref.rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return None
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.choose(schema["enum"], name)
        for key in ("anyOf", "oneOf", "allOf"):
            options = [self.resolve(o) for o in schema.get(key) or () if isinstance(o, dict)]
            real = [o for o in options if o.get("type") != "null"]
            if real:
                return self.value(real[0], name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties") or {}
            return {key: self.value(sub, key, depth + 1) for key, sub in props.items()}
        if kind == "array":
            return self.array(schema, name, depth)
        if kind == "boolean":
            return self.hints.resolved if "resolv" in name.lower() else False
        if kind in ("integer", "number"):
            return self.number(schema, kind)
        if kind == "null":
            return None
        return self.string(schema, name)

    def choose(self, options: list[Any], name: str) -> Any:
        lowered = name.lower()
        wanted: tuple[str, ...] = ()
        if "sentiment" in lowered or "mood" in lowered:
            wanted = (self.hints.sentiment, "neutral")
        elif any(word in lowered for word in ("category", "topic", "type", "kind")):
            wanted = (*TOPIC_CATEGORIES.get(self.hints.topic, ()), "other", "general")
        for value in wanted:
            if value in options:
                return value
        return options[0]

    def string(self, schema: dict[str, Any], name: str) -> str:
        lowered = name.lower()
        if "step" in lowered or "action" in lowered:
            text = self.hints.steps[0]
        elif any(word in lowered for word in ("issue", "summary", "problem", "title", "description", "reason")):
            text = self.hints.issue
        elif "sentiment" in lowered or "mood" in lowered:
            text = self.hints.sentiment
        else:
            text = f"Sandbox {name or 'value'}"
        return _fit(text, schema)

    def number(self, schema: dict[str, Any], kind: str) -> int | float:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        value: float = 1
        if isinstance(low, (int, float)):
            value = max(value, low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0))
        if isinstance(high, (int, float)) and value > high:
            value = high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
        return int(value) if kind == "integer" else float(value)

    def array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        items = self.resolve(schema.get("items") or {}) if isinstance(schema.get("items"), dict) else {}
        low = schema.get("minItems", 1) if isinstance(schema.get("minItems"), int) else 1
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        steps = "step" in name.lower() or "action" in name.lower()
        count = max(low, len(self.hints.steps) if steps else 1)
        count = min(count, high) if high is not None else count
        if steps and items.get("type", "string") == "string" and "enum" not in items:
            return [_fit(self.hints.steps[i % len(self.hints.steps)], items) for i in range(count)]
        return [self.value(items, name, depth + 1) for _ in range(count)]


def _fit(text: str, schema: dict[str, Any]) -> str:
    low = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
    high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
    text = text + "." * max(0, low - len(text))
    return text[:high] if high is not None else text


WRONG = {"not": "valid"}  # an object where a string, number, list or enum value belongs


def corrupt(value: Any, schema: dict[str, Any]) -> Any:
    """Input that breaks `schema`: the first required field left out, the next one given
    an object where something else belongs. Deterministic, so a test knows what to expect."""
    if not isinstance(value, dict):
        return "not an object"
    required = [key for key in schema.get("required") or () if isinstance(key, str)]
    broken = {key: item for key, item in value.items() if not required or key != required[0]}
    targets = required[1:2] or ([] if required else list(value)[:1])
    for key in targets:
        broken[key] = dict(WRONG)
    return broken
