"""Persona choice and case details (the persona's variables): before a conversation
starts, and editable during it."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from chatbot.personas import PersonaSpec
from chatbot.services.runtime import Runtime
from chatbot.store import Conversation

from . import state
from .chat_view import AVATARS
from .safe_markdown import safe_markdown


def detail_inputs(spec: PersonaSpec, *, key_prefix: str, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """One text input per variable, required ones first and starred; returns the values."""
    given = dict(values or {})
    ordered = sorted(spec.variables, key=lambda v: not v.required)
    result: dict[str, str] = {}
    for variable in ordered:
        result[variable.name] = st.text_input(
            variable.title + (" *" if variable.required else ""),
            value=given.get(variable.name, ""),
            placeholder=variable.default or None,
            key=f"{key_prefix}-{variable.name}",
            max_chars=500,
            help="Required" if variable.required else f"Optional; default: {variable.default or 'empty'}",
        )
    return result


def greeting_and_suggestions(spec: PersonaSpec) -> None:
    if spec.greeting:
        with st.chat_message("assistant", avatar=AVATARS["assistant"]):
            st.markdown(safe_markdown(spec.greeting))
    if spec.suggestions:
        columns = st.columns(len(spec.suggestions))
        for column, suggestion in zip(columns, spec.suggestions):
            column.button(
                safe_markdown(suggestion),
                key=f"suggest-{suggestion}",
                width="stretch",
                on_click=state.set_pending_prompt,
                args=(suggestion,),
            )


def _current(prefix: str, names: list[str]) -> dict[str, str]:
    # Callbacks run before the script: read the inputs' values as they are now, not as
    # they were when the button was drawn (an edit just before the click would be lost).
    return {name: st.session_state.get(f"{prefix}-{name}", "") for name in names}


def _start(runtime: Runtime, persona: str, prefix: str, names: list[str]) -> None:
    values = _current(prefix, names)
    conversation = state.attempt(
        lambda: runtime.conversations.start(state.actor(), persona=persona, variables=values)
    )
    if conversation is not None:
        state.open_conversation(conversation.id)


def new_conversation_panel(runtime: Runtime) -> tuple[str | None, dict[str, str]]:
    """Pick a persona and fill its case details; returns them for a message typed straight
    into the chat input (which starts the conversation too). No persona: (None, {})."""
    summaries = [p for p in runtime.personas.list(state.actor()) if p.published_version is not None]
    if not summaries:
        # No st.stop(): the sidebar below must still open the existing conversations.
        st.error("No persona is published yet. Ask an admin to publish one on the Personas page.")
        return None, {}
    keys = [p.key for p in summaries]
    names = {p.key: p.name for p in summaries}
    default = runtime.conversations.default_persona(state.actor(), among=keys)
    st.title("New conversation", anchor=False)
    persona_key = st.selectbox(
        "Persona",
        keys,
        index=keys.index(default) if default in keys else 0,
        format_func=lambda key: names[key],
        key="new-persona",
    )
    persona = runtime.personas.published_for(state.actor(), persona_key)
    if persona.spec.description:
        st.caption(persona.spec.description)
    values: dict[str, str] = {}
    if persona.spec.variables:
        with st.expander("Case details", expanded=bool(persona.spec.missing()), icon=":material/badge:"):
            values = detail_inputs(persona.spec, key_prefix=f"new-{persona_key}")
            st.button(
                "Start conversation",
                icon=":material/play_arrow:",
                key="start-conversation",
                on_click=_start,
                args=(runtime, persona_key, f"new-{persona_key}", [v.name for v in persona.spec.variables]),
            )
    greeting_and_suggestions(persona.spec)
    return persona_key, values


def _save_details(runtime: Runtime, conversation_id: int, prefix: str, names: list[str]) -> None:
    values = _current(prefix, names)
    state.attempt(
        lambda: runtime.conversations.update_details(state.actor(), conversation_id, values),
        "Case details saved; the next reply uses them.",
    )


def case_details_popover(runtime: Runtime, conversation: Conversation, spec: PersonaSpec) -> None:
    if not spec.variables:
        return
    prefix = f"details-{conversation.id}"
    with st.popover("Case details", icon=":material/badge:", width="stretch"):
        detail_inputs(spec, key_prefix=prefix, values=conversation.persona_vars)
        st.button(
            "Save details",
            key=f"{prefix}-save",
            icon=":material/save:",
            on_click=_save_details,
            args=(runtime, conversation.id, prefix, [v.name for v in spec.variables]),
        )
