"""Checks QA define once and run on every replayed reply: the pure core.

    config = validate_config("regex", {"pattern": r"order #?\\d+"})   # or CheckConfigError
    passed, detail = evaluate(check, reply_text)                      # check.kind, check.config
    passed, detail = evaluate(rubric_check, reply_text, judge=judge, question=user_text)

Kinds (`KINDS` describes each for the page):
- contains / not_contains: {"text", "case_sensitive": false}
- regex: {"pattern", "must": "match" | "not_match", "ignore_case": false}; patterns
  that could backtrack for minutes are refused (`regex_guard`)
- max_length: {"max", "unit": "chars" | "words"}
- json_schema: {"schema"}: the reply (or its first ```json fenced block) is JSON that
  matches the schema
- rubric: {"rubric", "min_score": null | 1..5}: a judge call grades the reply; see
  `chatbot/services/judge.py` for the call itself.

`passed` is None when the reply could not be graded (a rubric with no judge, or a judge
call that failed): such an outcome is not stored, so it never counts as a pass or a fail.
No I/O here: the judge is a callable passed in.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

# The real JSON Schema validator (every draft, $ref, formats' structure), not a subset of
# our own: QA paste schemas from elsewhere and expect them to mean what they mean there.
# Only references inside the schema are accepted (`_json_schema`): nothing is fetched.
import jsonschema
from pydantic import BaseModel, Field

from chatbot.errors import ChatbotError, InputError

from .regex_guard import MAX_PATTERN_CHARS, RegexRefused, refuse_slow

log = logging.getLogger("chatbot.checks")

# Regex checks search at most this much of a reply (see `regex_guard` for why).
MAX_REGEX_TEXT_CHARS = 20_000
MAX_TEXT_CHARS = 2_000  # contains / not_contains
MAX_RUBRIC_CHARS = 4_000
MAX_SCHEMA_CHARS = 20_000
MAX_LENGTH_LIMIT = 1_000_000
_FENCED_JSON = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)\n[ \t]*```", re.S)


class CheckConfigError(InputError):
    """A check's settings that cannot work; the message names the field and the fix."""


class CheckOutcome(NamedTuple):
    passed: bool | None  # None: not graded (and not stored)
    detail: str


class CheckLike(Protocol):
    kind: str
    config: Mapping[str, Any]


class RubricVerdict(BaseModel):
    """Record your verdict on the support assistant's reply."""

    passed: bool = Field(description="True if the reply meets the rubric, else false.")
    score: int = Field(ge=1, le=5, description="How well the reply meets the rubric: 1 (not at all) to 5 (fully).")
    reason: str = Field(
        min_length=1, max_length=500, description="One or two sentences: why, quoting the reply where it helps."
    )


#: judge(rubric, reply_text, question) -> verdict; raises a ChatbotError when it cannot.
Judge = Callable[[str, str, str | None], RubricVerdict]


@dataclass(frozen=True)
class KindInfo:
    label: str
    help: str
    example: dict[str, Any]


KINDS: dict[str, KindInfo] = {
    "contains": KindInfo(
        "Must contain", "The reply contains this text.", {"text": "order number", "case_sensitive": False}
    ),
    "not_contains": KindInfo(
        "Must not contain", "The reply does not contain this text.", {"text": "guarantee", "case_sensitive": False}
    ),
    "regex": KindInfo(
        "Regular expression",
        f"The reply matches (or must not match) a Python regular expression of at most "
        f"{MAX_PATTERN_CHARS} characters.",
        {"pattern": r"\b\d{4,}\b", "must": "match", "ignore_case": False},
    ),
    "max_length": KindInfo(
        "Maximum length", "The reply is at most this many characters or words.", {"max": 800, "unit": "chars"}
    ),
    "json_schema": KindInfo(
        "JSON matching a schema",
        "The reply is JSON (a ```json fenced block is fine) valid against this JSON Schema.",
        {"schema": {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}},
    ),
    "rubric": KindInfo(
        "Model-graded rubric",
        "A judge model (the cheaper one) grades the reply against this rubric: pass/fail and a score 1-5.",
        {"rubric": "The reply asks for the order number before promising anything.", "min_score": None},
    ),
}


# -- validation ---------------------------------------------------------------------------


def validate_config(kind: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config with defaults filled in, or a `CheckConfigError` saying what to fix."""
    if kind not in KINDS:
        raise CheckConfigError(f"Unknown check kind {kind!r}: choose one of {', '.join(KINDS)}.")
    if not isinstance(config, Mapping):
        raise CheckConfigError("A check's settings must be an object of field -> value.")
    config = dict(config)
    allowed = set(KINDS[kind].example)
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise CheckConfigError(
            f"A {kind} check has no setting {unknown[0]!r}; its settings are {', '.join(sorted(allowed))}."
        )
    return _VALIDATORS[kind](config)


def _text(config: dict[str, Any], name: str, *, limit: int) -> str:
    value = config.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CheckConfigError(f"Field {name!r} must be non-empty text.")
    if len(value) > limit:
        raise CheckConfigError(f"Field {name!r} is {len(value):,} characters; the limit is {limit:,}.")
    return value


def _flag(config: dict[str, Any], name: str) -> bool:
    value = config.get(name, False)
    if not isinstance(value, bool):
        raise CheckConfigError(f"Field {name!r} must be true or false.")
    return value


def _choice(config: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = config.get(name, choices[0])
    if value not in choices:
        raise CheckConfigError(f"Field {name!r} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _contains(config: dict[str, Any]) -> dict[str, Any]:
    return {"text": _text(config, "text", limit=MAX_TEXT_CHARS), "case_sensitive": _flag(config, "case_sensitive")}


def _regex(config: dict[str, Any]) -> dict[str, Any]:
    pattern = _text(config, "pattern", limit=MAX_PATTERN_CHARS)
    clean = {"pattern": pattern, "must": _choice(config, "must", ("match", "not_match")),
             "ignore_case": _flag(config, "ignore_case")}
    compile_pattern(clean)
    return clean


def compile_pattern(config: Mapping[str, Any]) -> re.Pattern[str]:
    pattern = config["pattern"]
    try:
        compiled = re.compile(pattern, re.IGNORECASE if config.get("ignore_case") else 0)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise CheckConfigError(f"The pattern is not a valid regular expression: {error.msg}{where}.") from None
    except RecursionError:
        raise CheckConfigError("The pattern is nested too deeply.") from None
    try:
        refuse_slow(pattern)
    except RegexRefused as error:
        raise CheckConfigError(str(error)) from None
    return compiled


def _max_length(config: dict[str, Any]) -> dict[str, Any]:
    value = config.get("max")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LENGTH_LIMIT:
        raise CheckConfigError(f"Field 'max' must be a whole number from 1 to {MAX_LENGTH_LIMIT:,}.")
    return {"max": value, "unit": _choice(config, "unit", ("chars", "words"))}


def _json_schema(config: dict[str, Any]) -> dict[str, Any]:
    schema = config.get("schema")
    if not isinstance(schema, dict):
        raise CheckConfigError("Field 'schema' must be a JSON Schema object.")
    if len(json.dumps(schema, default=str)) > MAX_SCHEMA_CHARS:
        raise CheckConfigError(f"The schema is longer than {MAX_SCHEMA_CHARS:,} characters of JSON.")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "/".join(str(p) for p in error.path) or "the top level"
        raise CheckConfigError(f"The schema is not valid JSON Schema at {where}: {error.message}") from None
    outside = next(_outside_refs(schema), None)
    if outside is not None:
        raise CheckConfigError(
            f"The schema refers to {outside!r}, which is not fetched: copy that schema into "
            "$defs and refer to it as #/$defs/..."
        )
    return {"schema": schema}


def _outside_refs(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ref
        for value in node.values():
            yield from _outside_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _outside_refs(value)


def _rubric(config: dict[str, Any]) -> dict[str, Any]:
    score = config.get("min_score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5):
        raise CheckConfigError("Field 'min_score' must be empty or a whole number from 1 to 5.")
    return {"rubric": _text(config, "rubric", limit=MAX_RUBRIC_CHARS), "min_score": score}


_VALIDATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "contains": _contains,
    "not_contains": _contains,
    "regex": _regex,
    "max_length": _max_length,
    "json_schema": _json_schema,
    "rubric": _rubric,
}


# -- evaluation ---------------------------------------------------------------------------


def evaluate(
    check: CheckLike, reply_text: str, *, judge: Judge | None = None, question: str | None = None
) -> CheckOutcome:
    """Run one check on one reply. `question` is the user turn the reply answers (the
    judge needs it to grade an answer; the other kinds ignore it)."""
    try:
        config = validate_config(check.kind, check.config)
    except CheckConfigError as error:  # a stored check edited into nonsense: say so, do not fail
        return CheckOutcome(None, f"Not graded: the check's settings are invalid ({error.message})")
    return _EVALUATORS[check.kind](config, reply_text or "", judge, question)


def _fold(text: str, case_sensitive: bool) -> str:
    text = unicodedata.normalize("NFC", text)
    return text if case_sensitive else text.casefold()


def _eval_contains(config: dict[str, Any], text: str, *_: Any) -> CheckOutcome:
    found = _fold(config["text"], config["case_sensitive"]) in _fold(text, config["case_sensitive"])
    return CheckOutcome(found, f"{'Contains' if found else 'Does not contain'} {config['text']!r}.")


def _eval_not_contains(config: dict[str, Any], text: str, *_: Any) -> CheckOutcome:
    found, detail = _eval_contains(config, text)
    return CheckOutcome(not found, detail)


def _eval_regex(config: dict[str, Any], text: str, *_: Any) -> CheckOutcome:
    pattern = compile_pattern(config)
    note = ""
    if len(text) > MAX_REGEX_TEXT_CHARS:
        text = text[:MAX_REGEX_TEXT_CHARS]
        note = f" (only the first {MAX_REGEX_TEXT_CHARS:,} characters were searched)"
    match = pattern.search(text)
    if config["must"] == "match":
        if match:
            return CheckOutcome(True, f"Matches at {match.start()}: {match.group(0)[:80]!r}{note}.")
        return CheckOutcome(False, f"No match for {config['pattern']!r}{note}.")
    if match:
        return CheckOutcome(False, f"Matches at {match.start()}: {match.group(0)[:80]!r}, which is not allowed{note}.")
    return CheckOutcome(True, f"No match for {config['pattern']!r}{note}.")


def _eval_max_length(config: dict[str, Any], text: str, *_: Any) -> CheckOutcome:
    size = len(text.split()) if config["unit"] == "words" else len(text)
    unit = "words" if config["unit"] == "words" else "characters"
    return CheckOutcome(size <= config["max"], f"{size:,} {unit} (limit {config['max']:,}).")


def json_payload(text: str) -> str:
    """The JSON part of a reply: the whole of it, or its first ```json fenced block."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        return stripped
    fenced = _FENCED_JSON.search(text)
    return fenced.group(1) if fenced else stripped


def _eval_json_schema(config: dict[str, Any], text: str, *_: Any) -> CheckOutcome:
    try:
        document = json.loads(json_payload(text))
    except ValueError as error:
        return CheckOutcome(False, f"Not JSON: {error}.")
    validator = jsonschema.validators.validator_for(config["schema"])(config["schema"])
    try:
        errors = list(validator.iter_errors(document))
    except Exception as error:  # e.g. a $ref to a part of the schema that is not there
        return CheckOutcome(None, f"Not graded: the schema could not be applied ({error}).")
    if not errors:
        return CheckOutcome(True, "Valid JSON matching the schema.")
    first = jsonschema.exceptions.best_match(errors)  # the most telling one, for the detail
    where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return CheckOutcome(False, f"At {where}: {first.message}{more}.")


def _eval_rubric(config: dict[str, Any], text: str, judge: Judge | None, question: str | None) -> CheckOutcome:
    if judge is None:
        return CheckOutcome(None, "Not graded: no judge is configured for rubric checks.")
    if not text.strip():
        return CheckOutcome(False, "The reply is empty.")
    try:
        verdict = judge(config["rubric"], text, question)
    except ChatbotError as error:
        return CheckOutcome(None, f"Not graded: the judge call failed ({error.user_message})")
    except Exception as error:  # a bug in a judge must not lose the replayed reply
        log.exception("rubric judge crashed")
        return CheckOutcome(None, f"Not graded: the judge crashed ({type(error).__name__})")
    passed = verdict.passed if config["min_score"] is None else verdict.score >= config["min_score"]
    return CheckOutcome(passed, f"Score {verdict.score}/5: {verdict.reason}")


_EVALUATORS: dict[str, Callable[..., CheckOutcome]] = {
    "contains": _eval_contains,
    "not_contains": _eval_not_contains,
    "regex": _eval_regex,
    "max_length": _eval_max_length,
    "json_schema": _eval_json_schema,
    "rubric": _eval_rubric,
}
