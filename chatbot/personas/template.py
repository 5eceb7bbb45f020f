"""System-prompt templates in a deliberately small syntax: `{{ variable_name }}` and nothing
else. No attribute or item access, filters, expressions or code, so a template can never
reach a Python object; values are inserted as plain text and never re-parsed.

    >>> render("Hello {{ name }}!", {"name": "Ada"})
    'Hello Ada!'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from chatbot.errors import InputError

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class TemplateError(InputError):
    """A template that cannot be rendered: bad syntax, or a variable without a value."""


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def variables_in(template: str) -> list[str]:
    """The variable names a template uses, in order of first use; raises on bad syntax."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1).strip()
        if not _NAME.fullmatch(name):
            raise TemplateError(
                f"Line {_line_of(template, match.start())}: {match.group(0)!r} is not a "
                "variable. Use {{ name }} with letters, digits and underscores only."
            )
        if name not in names:
            names.append(name)
    rest = _PLACEHOLDER.sub("", template)
    for block in ("{%", "{#"):
        if block in rest:
            raise TemplateError(
                f"Line {_line_of(rest, rest.find(block))}: '{block}' blocks are not supported; "
                "templates only fill in {{ name }} placeholders."
            )
    if "{{" in rest or "}}" in rest:
        where = rest.find("{{") if "{{" in rest else rest.find("}}")
        raise TemplateError(
            f"Line {_line_of(rest, where)}: unmatched '{{{{' or '}}}}' in the template."
        )
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill every `{{ name }}`; a variable without a value is an error naming all of them."""
    names = variables_in(template)
    missing = [n for n in names if not str(values.get(n) or "").strip()]
    if missing:
        raise TemplateError(
            "Missing value for " + ", ".join(missing) + ": fill it in before starting the chat."
        )
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1).strip()]), template)
