"""Two persona versions compared as text: pure functions of the specs, no storage.

    print(diff_specs(old, new, "version 1", "version 2"))
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .spec import PersonaSpec


def spec_lines(spec: PersonaSpec) -> list[str]:
    """A persona version as readable text, one fact per line, for diffs."""
    lines = [f"name: {spec.name}"]
    lines += _block("description", spec.description)
    lines += ["template:"] + [f"  {line}" for line in spec.template.splitlines()]
    lines.append("variables:" if spec.variables else "variables: (none)")
    for v in spec.variables:
        parts = [f"label {v.label!r}"] if v.label else []
        parts += [f"default {v.default!r}"] if v.default else []
        parts.append("required" if v.required else "optional")
        lines.append(f"  {v.name}: " + ", ".join(parts))
    lines.append(f"model: {spec.model}")
    lines.append(f"max_tokens: {spec.max_tokens}")
    temperature = "(API default)" if spec.temperature is None else spec.temperature
    lines.append(f"temperature: {temperature}")
    lines += _items("stop_sequences", [repr(s) for s in spec.stop_sequences])
    lines += _block("greeting", spec.greeting)
    lines += _items("suggestions", list(spec.suggestions))
    # Flags too: a version that only turns caching on or off must not diff as "no change".
    lines.append(f"cache_replies: {'on' if spec.cache_replies else 'off'}")
    lines.append(f"similar_questions: {'on' if spec.similar_questions else 'off'}")
    return lines


def diff_specs(a: PersonaSpec, b: PersonaSpec, label_a: str, label_b: str) -> str:
    """A unified diff of two specs as `spec_lines`; "" when they are the same."""
    if a == b:
        return ""
    return "\n".join(
        difflib.unified_diff(spec_lines(a), spec_lines(b), label_a, label_b, lineterm="")
    )


def _block(name: str, text: str) -> list[str]:
    if "\n" not in text:
        return [f"{name}: {text}".rstrip()]
    return [f"{name}:"] + [f"  {line}" for line in text.splitlines()]


def _items(name: str, items: Iterable[str]) -> list[str]:
    listed = [f"  - {item}" for item in items]
    return [f"{name}:"] + listed if listed else [f"{name}: (none)"]


__all__ = ["diff_specs", "spec_lines"]
