"""Lookups and writes on persona rows inside a session, shared by the persona services.

    from chatbot.services import persona_rows as rows
    with store.read_session(engine) as session:
        persona = rows.require(session, "billing")
        spec = cache.get(session, persona, rows.latest(session, persona).number)
    number = rows.write(engine, work)  # work(session) runs in one write transaction

They raise only the project's errors (`NotFoundError`, `InputError`) with messages an
admin can act on. `SpecCache` keeps the specs of versions already read: a version never
changes once written, so one cache can serve every thread.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from chatbot import store
from chatbot.errors import InputError, NotFoundError
from chatbot.personas import PersonaError, PersonaSpec

log = logging.getLogger("chatbot.personas")

T = TypeVar("T")
CACHE_SIZE = 256
_WRITE_ATTEMPTS = 3


def write(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction. A unique-key clash means another process
    wrote the same persona first (possible on PostgreSQL); run again, it will see it."""
    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        try:
            with store.write_session(engine) as session:
                return work(session)
        except IntegrityError:
            if attempt == _WRITE_ATTEMPTS:
                log.exception("persona write kept conflicting")
                raise InputError(
                    "Someone else changed the same persona at the same moment. Try again."
                ) from None
            log.info("persona write conflicted with another writer; retrying")
        except store.NotFoundError as error:
            raise NotFoundError(f"Not found: {error}") from None
    raise AssertionError("unreachable")


class SpecCache:
    """The specs of versions already read, by (key, number); thread-safe, bounded."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, int], PersonaSpec] = OrderedDict()
        self._cache_lock = threading.Lock()

    def get(self, session: Session, persona: store.Persona, number: int) -> PersonaSpec:
        """Version `number` of a persona, from the cache or the database."""
        with self._cache_lock:
            cached = self._cache.get((persona.key, number))
            if cached is not None:
                self._cache.move_to_end((persona.key, number))
                return cached
        row = store.get_persona_version(
            session=session, persona_id=persona_id(persona), number=number
        )
        if row is None:
            raise NotFoundError(f"The persona {persona.key!r} has no version {number}.")
        return self.remember(persona.key, row)

    def cached(self, key: str, number: int) -> PersonaSpec | None:
        """Version `number` of persona `key` if already read; no database access."""
        with self._cache_lock:
            return self._cache.get((key, number))

    def remember(self, key: str, row: store.PersonaVersion) -> PersonaSpec:
        """The spec of a version row just read, kept for next time."""
        spec = _spec_of(key, row)
        with self._cache_lock:
            self._cache[(key, row.number)] = spec
            self._cache.move_to_end((key, row.number))
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return spec


def persona_id(persona: store.Persona) -> int:
    assert persona.id is not None
    return persona.id


def require(session: Session, key: str) -> store.Persona:
    persona = store.get_persona_by_key(session=session, key=key)
    if persona is None:
        raise NotFoundError(
            f"There is no persona {key!r}. Check the key on the Personas page."
        )
    return persona


def latest(session: Session, persona: store.Persona) -> store.PersonaVersion:
    row = store.latest_persona_version(session=session, persona_id=persona_id(persona))
    if row is None:  # only a hand-edited database gets here: create_persona writes v1
        raise NotFoundError(f"The persona {persona.key!r} has no versions.")
    return row


def _spec_of(key: str, row: store.PersonaVersion) -> PersonaSpec:
    try:
        return PersonaSpec.from_dict(row.spec)
    except PersonaError as error:
        # A stored version that no longer passes the checks (they became stricter).
        raise InputError(
            f"Version {row.number} of the persona {key!r} is no longer valid "
            f"({error.user_message}). Restore or save a corrected version."
        ) from None


def spec_or_none(row: store.PersonaVersion) -> PersonaSpec | None:
    """For "did anything change?": a stored spec that no longer validates differs."""
    try:
        return PersonaSpec.from_dict(row.spec)
    except PersonaError:
        return None


def add_version(
    session: Session,
    persona: store.Persona,
    spec: PersonaSpec,
    *,
    by: str,
    note: str | None,
    publish: bool,
) -> int:
    row = store.add_persona_version(
        session=session,
        persona_id=persona_id(persona),
        spec=spec.to_dict(),
        created_by=by,
        note=note,
    )
    if publish:
        store.set_published_version(
            session=session, persona_id=persona_id(persona), number=row.number
        )
    return row.number


def free_key(session: Session, base: str) -> str:
    """`base`, or the first of "base-2", "base-3", ... not yet taken (within 63 chars)."""
    taken = store.persona_keys_like(session=session, prefix=base)
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: 63 - len(suffix)].rstrip("-") + suffix
        if candidate not in taken and (
            candidate.startswith(base + "-")
            or store.get_persona_by_key(session=session, key=candidate) is None
        ):
            return candidate
        n += 1


__all__ = [
    "CACHE_SIZE",
    "SpecCache",
    "add_version",
    "free_key",
    "latest",
    "persona_id",
    "require",
    "spec_or_none",
    "write",
]
