"""Personas: system-prompt templates with variables, and the model settings that go with them."""

from .catalog import DEFAULT_PERSONA, PERSONAS, Persona, Variable, get_persona
from .template import TemplateError, render, variables_in

__all__ = [
    "DEFAULT_PERSONA",
    "PERSONAS",
    "Persona",
    "TemplateError",
    "Variable",
    "get_persona",
    "render",
    "variables_in",
]
