"""What the persona services return: plain frozen dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatbot.personas import PersonaSpec


@dataclass(frozen=True)
class ResolvedPersona:
    """One version of a persona, ready to render; `published` as of when it was read."""

    key: str
    number: int
    spec: PersonaSpec
    published: bool


@dataclass(frozen=True)
class PersonaSummary:
    """A persona in a list. For someone who may not read drafts it describes the published
    version only: its name and description, `latest_version` equal to it, and
    `updated_at` the time that version was written."""

    key: str
    name: str
    description: str
    published_version: int | None
    latest_version: int
    archived: bool
    updated_at: datetime


@dataclass(frozen=True)
class VersionInfo:
    number: int
    created_by: str
    created_at: datetime
    note: str | None
    published: bool


@dataclass(frozen=True)
class Preview:
    """A rendered system prompt and its size; `error` says why either is missing."""

    prompt: str | None
    tokens: int | None
    error: str | None


def target(key: str, number: int | None) -> str:
    """How the audit log names a persona version: "persona:support v3"."""
    return f"persona:{key}" + (f" v{number}" if number is not None else "")


__all__ = ["PersonaSummary", "Preview", "ResolvedPersona", "VersionInfo", "target"]
