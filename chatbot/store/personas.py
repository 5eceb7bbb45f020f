"""Personas and their versions: create, add a version, publish, archive, find, list.

Functions flush but never commit. Call the writing ones inside ``write_session``: on
SQLite its BEGIN IMMEDIATE is what makes "next version number" safe under concurrency
(on PostgreSQL the persona row is locked FOR UPDATE).

The store does not judge a spec: it keeps the dict it is given (``PersonaSpec.to_dict()``,
checked by the caller) and copies its "name" and "description" onto the persona for
lists. Versions are immutable: there is no function that changes one. A key already in
use raises ``sqlalchemy.exc.IntegrityError`` when flushed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from chatbot.store.errors import NotFoundError
from chatbot.store.models import Persona, PersonaVersion, utc_now


def create_persona(
    *,
    session: Session,
    key: str,
    spec: Mapping[str, Any],
    created_by: str,
    note: str | None = None,
    publish: bool = True,
) -> tuple[Persona, PersonaVersion]:
    """A new persona with `spec` as version 1, published unless publish=False."""
    if not isinstance(key, str) or not key:
        raise ValueError("a persona key cannot be empty")
    name, description = _listing(spec)
    now = utc_now()
    persona = Persona(
        key=key,
        name=name,
        description=description,
        published_version=1 if publish else None,
        created_at=now,
        updated_at=now,
    )
    session.add(persona)
    session.flush()
    assert persona.id is not None
    version = PersonaVersion(
        persona_id=persona.id,
        number=1,
        spec=dict(spec),
        created_by=created_by,
        created_at=now,
        note=note,
    )
    session.add(version)
    session.flush()
    return persona, version


def add_persona_version(
    *,
    session: Session,
    persona_id: int,
    spec: Mapping[str, Any],
    created_by: str,
    note: str | None = None,
) -> PersonaVersion:
    """Append the next version (not published) and copy its name/description onto the persona."""
    name, description = _listing(spec)
    # FOR UPDATE serialises concurrent versions on PostgreSQL; SQLite ignores it and
    # relies on the write session's BEGIN IMMEDIATE instead.
    persona = session.exec(
        select(Persona).where(Persona.id == persona_id).with_for_update()
    ).one_or_none()
    if persona is None:
        raise NotFoundError(f"persona {persona_id} does not exist")
    number = session.exec(
        select(func.coalesce(func.max(PersonaVersion.number) + 1, 1)).where(
            PersonaVersion.persona_id == persona_id
        )
    ).one()
    now = utc_now()
    version = PersonaVersion(
        persona_id=persona_id,
        number=number,
        spec=dict(spec),
        created_by=created_by,
        created_at=now,
        note=note,
    )
    persona.name = name
    persona.description = description
    persona.updated_at = now
    session.add_all([version, persona])
    session.flush()
    return version


def set_published_version(*, session: Session, persona_id: int, number: int) -> Persona:
    """Make version `number` the one new conversations get."""
    persona = require_persona(session=session, persona_id=persona_id)
    if get_persona_version(session=session, persona_id=persona_id, number=number) is None:
        raise NotFoundError(f"persona {persona_id} has no version {number}")
    persona.published_version = number
    persona.updated_at = utc_now()
    session.add(persona)
    session.flush()
    return persona


def set_persona_archived(
    *, session: Session, persona_id: int, archived: bool = True
) -> Persona:
    """Hide a persona from the default list (archived=False brings it back)."""
    persona = require_persona(session=session, persona_id=persona_id)
    persona.archived = archived
    persona.updated_at = utc_now()
    session.add(persona)
    session.flush()
    return persona


def get_persona(*, session: Session, persona_id: int) -> Persona | None:
    return session.get(Persona, persona_id)


def require_persona(*, session: Session, persona_id: int) -> Persona:
    """Like get_persona, but a missing id raises NotFoundError."""
    persona = session.get(Persona, persona_id)
    if persona is None:
        raise NotFoundError(f"persona {persona_id} does not exist")
    return persona


def get_persona_by_key(*, session: Session, key: str) -> Persona | None:
    return session.exec(select(Persona).where(Persona.key == key)).one_or_none()


def list_personas(*, session: Session, include_archived: bool = False) -> list[Persona]:
    """By name (then key, for personas that share a name)."""
    query = select(Persona)
    if not include_archived:
        query = query.where(col(Persona.archived).is_(False))
    query = query.order_by(col(Persona.name), col(Persona.key))
    return list(session.exec(query).all())


def list_published_personas(*, session: Session) -> list[tuple[Persona, PersonaVersion]]:
    """Each unarchived persona that has a published version, with that version (what an
    agent may see: a draft's name or description never leaves the database). By key; the
    persona's own `name` is the latest version's, so callers sort by the version's."""
    query = (
        select(Persona, PersonaVersion)
        .join(
            PersonaVersion,
            (col(PersonaVersion.persona_id) == col(Persona.id))
            & (col(PersonaVersion.number) == col(Persona.published_version)),
        )
        .where(col(Persona.archived).is_(False))
        .order_by(col(Persona.key))
    )
    return [(persona, version) for persona, version in session.exec(query).all()]


def persona_keys_like(*, session: Session, prefix: str) -> set[str]:
    """Keys equal to `prefix` or starting with `prefix-` (to pick a free "name-2")."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = select(Persona.key).where(
        (Persona.key == prefix) | col(Persona.key).like(f"{escaped}-%", escape="\\")
    )
    return set(session.exec(query).all())


def get_persona_version(
    *, session: Session, persona_id: int, number: int
) -> PersonaVersion | None:
    query = select(PersonaVersion).where(
        PersonaVersion.persona_id == persona_id, PersonaVersion.number == number
    )
    return session.exec(query).one_or_none()


def list_persona_versions(*, session: Session, persona_id: int) -> list[PersonaVersion]:
    """Newest first."""
    query = (
        select(PersonaVersion)
        .where(PersonaVersion.persona_id == persona_id)
        .order_by(col(PersonaVersion.number).desc())
    )
    return list(session.exec(query).all())


def latest_persona_version(*, session: Session, persona_id: int) -> PersonaVersion | None:
    query = (
        select(PersonaVersion)
        .where(PersonaVersion.persona_id == persona_id)
        .order_by(col(PersonaVersion.number).desc())
        .limit(1)
    )
    return session.exec(query).first()


def latest_version_numbers(*, session: Session) -> dict[int, int]:
    """persona id -> its newest version number, for every persona, in one query."""
    query = select(PersonaVersion.persona_id, func.max(PersonaVersion.number)).group_by(
        col(PersonaVersion.persona_id)
    )
    return {persona_id: number for persona_id, number in session.exec(query).all()}


def _listing(spec: Mapping[str, Any]) -> tuple[str, str]:
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a persona spec needs a name")
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise TypeError("a persona spec's description must be a string")
    return name, description
