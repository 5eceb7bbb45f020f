"""The settings of a check, one set of widgets per kind, read back as the config dict the
checks service validates. Used inside `st.form`s (create and edit), so nothing here
reacts before the form is submitted.

    typed = config_fields("regex", prefix="new-check")   # inside the form
    config = to_config("regex", typed)                   # on submit; or a ConfigInputError
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from chatbot.errors import InputError
from chatbot.services.checks import KINDS

MIN_SCORES = [None, 1, 2, 3, 4, 5]


class ConfigInputError(InputError):
    """What was typed cannot even be read as settings (JSON that does not parse)."""


def summary(kind: str, config: Mapping[str, Any]) -> str:
    """One line a person reads: what the check looks for."""
    if kind in ("contains", "not_contains"):
        case = "case-sensitive" if config.get("case_sensitive") else "any case"
        return f"{'contains' if kind == 'contains' else 'does not contain'} “{config.get('text', '')}” ({case})"
    if kind == "regex":
        how = "must match" if config.get("must", "match") == "match" else "must not match"
        flags = ", ignoring case" if config.get("ignore_case") else ""
        return f"{how} /{config.get('pattern', '')}/{flags}"
    if kind == "max_length":
        unit = "words" if config.get("unit") == "words" else "characters"
        return f"at most {config.get('max', 0):,} {unit}"
    if kind == "json_schema":
        schema = json.dumps(config.get("schema", {}), separators=(",", ":"))
        return "JSON matching " + (schema if len(schema) <= 80 else schema[:77] + "…")
    if kind == "rubric":
        score = config.get("min_score")
        rule = f"score ≥ {score}/5" if score else "the judge's pass/fail"
        rubric = str(config.get("rubric", ""))
        return f"judged ({rule}): {rubric if len(rubric) <= 80 else rubric[:77] + '…'}"
    return json.dumps(config)


def _contains(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    text = st.text_area("Text", value=config.get("text", ""), key=f"{prefix}-text", height=80,
                        help="Looked for anywhere in the reply.")
    case = st.checkbox("Case-sensitive", value=bool(config.get("case_sensitive")), key=f"{prefix}-case")
    return {"text": text, "case_sensitive": case}


def _regex(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    pattern = st.text_input("Pattern (Python regular expression)", value=config.get("pattern", ""),
                            key=f"{prefix}-pattern", placeholder=r"order #?\d{4,}")
    must = st.radio("The reply", ["match", "not_match"], horizontal=True, key=f"{prefix}-must",
                    index=0 if config.get("must", "match") == "match" else 1,
                    format_func={"match": "must match", "not_match": "must not match"}.get)
    ignore = st.checkbox("Ignore case", value=bool(config.get("ignore_case")), key=f"{prefix}-ignore")
    return {"pattern": pattern, "must": must, "ignore_case": ignore}


def _max_length(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    left, right = st.columns(2)
    limit = left.number_input("At most", min_value=1, max_value=1_000_000, step=50,
                              value=int(config.get("max", 800)), key=f"{prefix}-max")
    unit = right.radio("Counted in", ["chars", "words"], horizontal=True, key=f"{prefix}-unit",
                       index=0 if config.get("unit", "chars") == "chars" else 1,
                       format_func={"chars": "characters", "words": "words"}.get)
    return {"max": int(limit), "unit": unit}


def _json_schema(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    text = st.text_area(
        "JSON Schema", value=json.dumps(config.get("schema", KINDS["json_schema"].example["schema"]), indent=2),
        key=f"{prefix}-schema", height=200,
        help="Any JSON Schema draft. References must stay inside the schema (#/$defs/...).",
    )
    return {"schema": text}  # parsed on submit (`to_config`), so a typo keeps the form drawn


def _rubric(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    rubric = st.text_area("Rubric", value=config.get("rubric", ""), key=f"{prefix}-rubric", height=100,
                          placeholder="The reply asks for the order number before promising anything.")
    score = st.selectbox(
        "Minimum score", MIN_SCORES, key=f"{prefix}-score",
        index=MIN_SCORES.index(config.get("min_score")) if config.get("min_score") in MIN_SCORES else 0,
        format_func=lambda s: "None: the judge's pass/fail decides" if s is None else f"{s} of 5",
    )
    return {"rubric": rubric, "min_score": score}


FIELDS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "contains": _contains,
    "not_contains": _contains,
    "regex": _regex,
    "max_length": _max_length,
    "json_schema": _json_schema,
    "rubric": _rubric,
}


def config_fields(kind: str, *, prefix: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Draws the kind's widgets (filled from `config`, else empty) and returns what they
    hold, as typed; `to_config` turns that into settings."""
    return FIELDS[kind](config or {}, prefix)


def to_config(kind: str, typed: Mapping[str, Any]) -> dict[str, Any]:
    """The settings to hand to the checks service; `ConfigInputError` when what was typed
    cannot even be read (the service then says what else is wrong)."""
    config = dict(typed)
    if kind == "json_schema":
        try:
            config["schema"] = json.loads(config["schema"])
        except json.JSONDecodeError as error:
            raise ConfigInputError(
                f"The schema is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from None
    return config
