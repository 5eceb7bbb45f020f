"""Personas: system-prompt templates with variables, and the model settings that go with them."""

from .catalog import DEFAULT_PERSONA, SHIPPED, SUPPORT
from .diff import diff_specs, spec_lines
from .spec import PersonaError, PersonaSpec, Variable, slugify, valid_key
from .template import TemplateError, render, variables_in

__all__ = [
    "DEFAULT_PERSONA",
    "SHIPPED",
    "SUPPORT",
    "PersonaError",
    "PersonaSpec",
    "TemplateError",
    "Variable",
    "diff_specs",
    "render",
    "slugify",
    "spec_lines",
    "valid_key",
    "variables_in",
]
