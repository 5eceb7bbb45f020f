"""Personas: what the assistant is told to be, as validated data.

Until persona editing lands, the catalog is the shipped default below; conversations store
the persona key and the variable values, so moving personas into the database later keeps
every stored conversation reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .template import TemplateError, render, variables_in


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    default: str = ""
    required: bool = False


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    description: str
    template: str
    variables: tuple[Variable, ...] = ()
    model: str = "claude-sonnet-5-5"
    max_tokens: int = 1024
    temperature: float | None = 0.3
    stop_sequences: tuple[str, ...] = ()
    greeting: str = ""
    suggestions: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        used = set(variables_in(self.template))  # raises on bad syntax
        declared = {v.name for v in self.variables}
        if used - declared:
            raise TemplateError(
                f"Persona {self.key!r}: the template uses undeclared variables "
                + ", ".join(sorted(used - declared))
            )

    def values(self, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """Defaults overlaid with the values given (blank values fall back to defaults)."""
        values = {v.name: v.default for v in self.variables}
        for name, value in (given or {}).items():
            if name in values and str(value).strip():
                values[name] = str(value).strip()
        return values

    def system_prompt(self, given: Mapping[str, str] | None = None) -> str:
        return render(self.template, self.values(given))


SUPPORT = Persona(
    key="support",
    name="Customer support assistant",
    description="Helps agents answer customers about orders, shipping, returns, billing and accounts.",
    template=(
        "You are a customer support assistant for {{ company_name }}. Your name is "
        "{{ agent_name }}.\n"
        "You help the support team answer customers' questions about orders, shipping, "
        "returns, billing and accounts.\n"
        "Be friendly, concise and accurate. Never invent order details, prices or policies: "
        "if you do not know, say so and suggest how to escalate.\n"
        "Answer in short paragraphs or numbered steps, using Markdown."
    ),
    variables=(
        Variable("company_name", "Company name", default="Acme", required=True),
        Variable("agent_name", "Assistant's name", default="Alex", required=True),
    ),
    greeting="Hi! I'm the support assistant. Paste the customer's question to get started.",
    suggestions=(
        "A customer wants a refund for a damaged item.",
        "Where is order #1042? It was due yesterday.",
        "The customer can't log in after resetting their password.",
    ),
)

PERSONAS: dict[str, Persona] = {SUPPORT.key: SUPPORT}
DEFAULT_PERSONA = SUPPORT.key


def get_persona(key: str | None) -> Persona:
    """The persona for `key`; an unknown key (e.g. one since removed) gets the default."""
    return PERSONAS.get(key or DEFAULT_PERSONA, PERSONAS[DEFAULT_PERSONA])
