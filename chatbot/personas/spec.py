"""What one version of a persona says: validated, immutable data.

A `PersonaSpec` is the whole content of a version (template, variables, model settings,
greeting, suggestions). It is stored as JSON (`to_dict`) and read back with `from_dict`,
which checks every field and names the one that is wrong, so a stored or imported
persona is either entirely valid or refused.

    spec = PersonaSpec.from_dict({"name": "Billing", "template": "You help {{ company }}.",
                                  "variables": [{"name": "company", "label": "Company"}]})
    spec.system_prompt({"company": "Acme"})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chatbot.errors import InputError

from .template import TemplateError, render, variables_in

DEFAULT_MODEL = "claude-sonnet-5-5"
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

LIMITS = {
    "name": 80,
    "description": 500,
    "template": 50_000,
    "greeting": 2_000,
    "suggestion": 300,
    "suggestions": 6,
    "variables": 30,
    "stop_sequences": 8,
    "stop_sequence": 100,
    "max_tokens": 64_000,
}


class PersonaError(InputError):
    """A persona field that is missing or wrong; `field` names it (e.g. "variables[2].name")."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


def valid_key(key: str) -> str:
    """A persona's permanent identifier: lower-case letters, digits and dashes."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise PersonaError(
            "key", "use 1-63 lower-case letters, digits and dashes, starting with a letter or digit"
        )
    return key


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "persona"


@dataclass(frozen=True)
class Variable:
    name: str
    label: str = ""
    default: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        if not _VARIABLE_NAME.fullmatch(self.name or ""):
            raise PersonaError(
                "variables", f"{self.name!r} is not a valid name (letters, digits, underscores)"
            )

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


def _text(data: Mapping[str, Any], name: str, *, required: bool = False, limit: int | None = None) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PersonaError(name, f"must be text, not {type(value).__name__}")
    if required and not value.strip():
        raise PersonaError(name, "is required")
    limit = limit or LIMITS.get(name)
    if limit and len(value) > limit:
        raise PersonaError(name, f"is {len(value):,} characters; the limit is {limit:,}")
    return value


def _text_list(data: Mapping[str, Any], name: str, *, each: int, most: int) -> tuple[str, ...]:
    value = data.get(name) or []
    if not isinstance(value, (list, tuple)):
        raise PersonaError(name, "must be a list of texts")
    if len(value) > most:
        raise PersonaError(name, f"has {len(value)} items; at most {most}")
    items: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise PersonaError(f"{name}[{index}]", "must be non-empty text")
        if len(item) > each:
            raise PersonaError(f"{name}[{index}]", f"is longer than {each} characters")
        items.append(item)
    return tuple(items)


def _variables(data: Mapping[str, Any]) -> tuple[Variable, ...]:
    raw = data.get("variables") or []
    if not isinstance(raw, (list, tuple)):
        raise PersonaError("variables", "must be a list")
    if len(raw) > LIMITS["variables"]:
        raise PersonaError("variables", f"at most {LIMITS['variables']} variables")
    variables: list[Variable] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"variables[{index}]"
        if isinstance(item, Variable):
            item = item.__dict__
        if not isinstance(item, Mapping):
            raise PersonaError(where, "must be an object with name, label, default, required")
        unknown = set(item) - {"name", "label", "default", "required"}
        if unknown:
            raise PersonaError(where, "unknown fields " + ", ".join(sorted(map(str, unknown))))
        name = item.get("name")
        if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
            raise PersonaError(f"{where}.name", "use letters, digits and underscores, not starting with a digit")
        if name in seen:
            raise PersonaError(f"{where}.name", f"{name!r} is declared twice")
        seen.add(name)
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise PersonaError(f"{where}.required", "must be true or false")
        label = item.get("label") or ""
        default = item.get("default") or ""
        for part, value in (("label", label), ("default", default)):
            if not isinstance(value, str):
                raise PersonaError(f"{where}.{part}", "must be text")
            if len(value) > 500:
                raise PersonaError(f"{where}.{part}", "is longer than 500 characters")
        variables.append(Variable(name=name, label=label, default=default, required=required))
    return tuple(variables)


FIELDS = (
    "name", "description", "template", "variables", "model", "max_tokens", "temperature",
    "stop_sequences", "greeting", "suggestions", "cache_replies", "similar_questions",
)  # fmt: skip


@dataclass(frozen=True)
class PersonaSpec:
    """The content of one persona version. Build it with `from_dict` to have it checked."""

    name: str
    template: str
    description: str = ""
    variables: tuple[Variable, ...] = ()
    model: str = DEFAULT_MODEL
    max_tokens: int = 1024
    temperature: float | None = 0.3
    stop_sequences: tuple[str, ...] = ()
    greeting: str = ""
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    # Answer an identical request from the response cache (off for personas whose answers
    # must reflect live data, or that are meant to vary).
    cache_replies: bool = True
    # Answer reworded first questions from the cache (chatbot/llm/similar.py); for
    # FAQ-style personas. Inert unless cache_replies is on too.
    similar_questions: bool = False

    def __post_init__(self) -> None:
        try:
            used = variables_in(self.template)
        except TemplateError as error:
            raise PersonaError("template", error.user_message) from None
        declared = {v.name for v in self.variables}
        undeclared = [name for name in used if name not in declared]
        if undeclared:
            raise PersonaError(
                "template", "uses variables that are not declared: " + ", ".join(undeclared)
            )

    # -- (de)serialisation --------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PersonaSpec:
        if not isinstance(data, Mapping):
            raise PersonaError("persona", "must be an object")
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise PersonaError("persona", "unknown fields " + ", ".join(sorted(map(str, unknown))))
        max_tokens = data.get("max_tokens", 1024)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            raise PersonaError("max_tokens", "must be a whole number")
        if not 1 <= max_tokens <= LIMITS["max_tokens"]:
            raise PersonaError("max_tokens", f"must be between 1 and {LIMITS['max_tokens']:,}")
        temperature = data.get("temperature", 0.3)
        if temperature is not None:
            if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
                raise PersonaError("temperature", "must be a number between 0 and 1")
            if not 0 <= temperature <= 1:
                raise PersonaError("temperature", "must be between 0 and 1")
            temperature = float(temperature)
        model = _text(data, "model", limit=100).strip() or DEFAULT_MODEL
        cache_replies = data.get("cache_replies", True)
        if not isinstance(cache_replies, bool):
            raise PersonaError("cache_replies", "must be true or false")
        # Absent from versions stored before the flag existed: they keep the old behaviour.
        similar_questions = data.get("similar_questions", False)
        if not isinstance(similar_questions, bool):
            raise PersonaError("similar_questions", "must be true or false")
        return cls(
            name=_text(data, "name", required=True).strip(),
            description=_text(data, "description"),
            template=_text(data, "template", required=True),
            variables=_variables(data),
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            stop_sequences=_text_list(
                data, "stop_sequences", each=LIMITS["stop_sequence"], most=LIMITS["stop_sequences"]
            ),
            greeting=_text(data, "greeting"),
            suggestions=_text_list(
                data, "suggestions", each=LIMITS["suggestion"], most=LIMITS["suggestions"]
            ),
            cache_replies=cache_replies,
            similar_questions=similar_questions,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "template": self.template,
            "variables": [
                {"name": v.name, "label": v.label, "default": v.default, "required": v.required}
                for v in self.variables
            ],
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop_sequences": list(self.stop_sequences),
            "greeting": self.greeting,
            "suggestions": list(self.suggestions),
            "cache_replies": self.cache_replies,
            "similar_questions": self.similar_questions,
        }

    # -- rendering ------------------------------------------------------------------------

    def values(self, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """Defaults overlaid with the values given (blank values fall back to defaults);
        names the persona does not declare are dropped."""
        values = {v.name: v.default for v in self.variables}
        for name, value in (given or {}).items():
            if name in values and str(value).strip():
                values[name] = str(value).strip()
        return values

    def missing(self, given: Mapping[str, str] | None = None) -> list[Variable]:
        """Variables the template needs that have no value yet (to ask the agent for)."""
        values = self.values(given)
        used = set(variables_in(self.template))
        return [v for v in self.variables if (v.required or v.name in used) and not values[v.name].strip()]

    def system_prompt(self, given: Mapping[str, str] | None = None) -> str:
        return render(self.template, self.values(given))
