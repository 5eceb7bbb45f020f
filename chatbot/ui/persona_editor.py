"""The persona editor: every field of a version as widgets, checked live, with a preview
of the rendered system prompt and its token count."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from chatbot.personas import PersonaError, PersonaSpec
from chatbot.services.runtime import Runtime

from . import state

KNOWN_MODELS = ("claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5", "claude-sonnet-4-6")


@st.cache_data(ttl=3600, show_spinner=False)
def model_choices(_runtime: Runtime) -> list[str]:
    """The API's model list (cached for an hour); the known ones if it cannot be read."""
    try:
        return [m["id"] for m in _runtime.client.list_models()] or list(KNOWN_MODELS)
    except Exception:  # the editor must open even when the API is unreachable
        return list(KNOWN_MODELS)


def _lines(text: str, *, strip: bool = True) -> list[str]:
    # Stop sequences keep their spaces (" END" is not "END"); suggestions are trimmed.
    return [line.strip() if strip else line for line in (text or "").splitlines() if line.strip()]


def _variables_frame(spec: PersonaSpec) -> pd.DataFrame:
    rows = [
        {"name": v.name, "label": v.label, "default": v.default, "required": v.required}
        for v in spec.variables
    ]
    return pd.DataFrame(rows, columns=["name", "label", "default", "required"])


def _variables_from(frame: pd.DataFrame) -> list[dict[str, Any]]:
    variables = []
    for row in frame.to_dict("records"):
        name = str(row.get("name") or "").strip() if not pd.isna(row.get("name")) else ""
        if not name:
            continue  # an empty row the admin added and left blank
        def text(value: Any) -> str:
            return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        variables.append({
            "name": name,
            "label": text(row.get("label")).strip(),
            "default": text(row.get("default")),
            "required": bool(row.get("required")) if not pd.isna(row.get("required")) else False,
        })
    return variables


def persona_form(runtime: Runtime, spec: PersonaSpec, *, prefix: str) -> tuple[dict[str, Any], PersonaSpec | None]:
    """The editor's widgets, filled from `spec`. Returns the raw draft and, when every field
    is valid, the `PersonaSpec` it makes; otherwise shows what to fix and returns None."""
    draft: dict[str, Any] = {}
    draft["name"] = st.text_input("Name", value=spec.name, key=f"{prefix}-name", max_chars=80)
    draft["description"] = st.text_input(
        "Description", value=spec.description, key=f"{prefix}-description", max_chars=500
    )
    draft["template"] = st.text_area(
        "System prompt template",
        value=spec.template,
        key=f"{prefix}-template",
        height=240,
        help="Use {{ variable_name }} for case details. Nothing else is evaluated.",
    )
    st.caption("Variables (one row each; blank rows are ignored)")
    frame = st.data_editor(
        _variables_frame(spec),
        key=f"{prefix}-variables",
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Name", help="As used in {{ name }}"),
            "label": st.column_config.TextColumn("Label", help="What agents see"),
            "default": st.column_config.TextColumn("Default"),
            "required": st.column_config.CheckboxColumn("Required", default=False),
        },
    )
    draft["variables"] = _variables_from(frame)

    models = model_choices(runtime)
    if spec.model not in models:
        models = [spec.model, *models]
    left, middle, right = st.columns(3)
    draft["model"] = left.selectbox(
        "Model", models, index=models.index(spec.model), key=f"{prefix}-model",
        accept_new_options=True,
    )
    draft["max_tokens"] = int(middle.number_input(
        "Max tokens", min_value=1, max_value=64_000, value=spec.max_tokens, step=64,
        key=f"{prefix}-max-tokens",
    ))
    temperature = right.slider(
        "Temperature", 0.0, 1.0, value=spec.temperature if spec.temperature is not None else 1.0,
        step=0.05, key=f"{prefix}-temperature",
    )
    # A persona left to the API's default (1.0) shows 1.0; keep it unset unless moved, or
    # merely opening it would count as an edit and saving would pin the value.
    draft["temperature"] = None if spec.temperature is None and temperature == 1.0 else temperature
    draft["stop_sequences"] = _lines(st.text_area(
        "Stop sequences (one per line)", value="\n".join(spec.stop_sequences),
        key=f"{prefix}-stop", height=68,
    ), strip=False)
    draft["cache_replies"] = st.toggle(
        "Answer repeated questions from the cache",
        value=spec.cache_replies,
        key=f"{prefix}-cache",
        help="An identical request within the cache's lifetime (default 10 minutes) gets the "
        "same answer at no cost. Turn off when answers must reflect live data.",
    )
    draft["similar_questions"] = st.toggle(
        "Also answer reworded first questions from the cache",
        value=spec.similar_questions,
        key=f"{prefix}-similar",
        disabled=not draft["cache_replies"],
        help="For FAQ-style personas: a conversation's first question, worded differently "
        "(\"Where's my order?\" / \"where is my order\"), gets the answer already given. "
        "Never across different numbers, ids, dates, a negation, or a different noun.",
    )
    if not draft["cache_replies"]:
        # Kept as saved but inert: the chat service uses it only with the cache on.
        st.caption("Reworded questions are answered from the cache, so they need it on.")
    draft["greeting"] = st.text_area(
        "Greeting shown to agents", value=spec.greeting, key=f"{prefix}-greeting", height=68
    )
    draft["suggestions"] = _lines(st.text_area(
        "Suggested first messages (one per line)", value="\n".join(spec.suggestions),
        key=f"{prefix}-suggestions", height=100,
    ))
    try:
        return draft, PersonaSpec.from_dict(draft)
    except PersonaError as error:
        st.error(f"**{error.field}**: {error.problem}", icon=":material/edit_note:")
        return draft, None


def preview_panel(runtime: Runtime, spec: PersonaSpec | None, *, prefix: str) -> dict[str, str]:
    """Sample values for the variables and the system prompt they render; returns them."""
    st.markdown("**Preview**")
    if spec is None:
        st.info("Fix the highlighted field to see the preview.")
        return {}
    values: dict[str, str] = {}
    for variable in spec.variables:
        values[variable.name] = st.text_input(
            f"Sample {variable.title}", value=variable.default, key=f"{prefix}-sample-{variable.name}"
        )
    preview = runtime.personas.preview(state.actor(), spec, values)  # token counts cached in the service
    if preview.error and preview.prompt is None:
        st.error(preview.error, icon=":material/error:")
        return values
    if preview.tokens is not None:
        st.metric("System prompt", f"{preview.tokens:,} tokens")
    elif preview.error:
        st.warning(f"Token count unavailable: {preview.error}")
    st.code(preview.prompt or "", language=None, wrap_lines=True)
    return values

