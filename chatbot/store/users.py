"""People and their sessions: find, create, change; sessions begin, are looked up, end.

Functions flush but never commit: the session's ``with`` block is the unit of work.
Policy (who may do what, what a valid password is, how long a session lives) belongs to
``chatbot.auth``; these functions only read and write rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from .auth_models import AuthSession, SignInFailure, User
from .models import utc_now


def find_user(*, session: Session, username: str, lock: bool = False) -> User | None:
    """The user with this (already case-folded) username; with `lock`, locked against a
    concurrent change until the transaction ends (see `lock_user`)."""
    query = select(User).where(User.username == username)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).first()


def find_user_by_subject(*, session: Session, subject: str) -> User | None:
    return session.exec(select(User).where(User.sso_subject == subject)).first()


def list_users(*, session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))).all())


def count_users(*, session: Session, role: str | None = None, active_only: bool = False) -> int:
    query = select(func.count()).select_from(User)
    if role is not None:
        query = query.where(User.role == role)
    if active_only:
        query = query.where(col(User.active).is_(True))
    return int(session.exec(query).one())


def add_user(*, session: Session, **fields: object) -> User:
    now = utc_now()
    user = User(created_at=now, updated_at=now, **fields)  # type: ignore[arg-type]
    session.add(user)
    session.flush()
    return user


def change_user(*, session: Session, user: User, **fields: object) -> User:
    for name, value in fields.items():
        if not hasattr(user, name):
            raise TypeError(f"app_user has no field {name!r}")
        setattr(user, name, value)
    user.updated_at = utc_now()
    session.add(user)
    session.flush()
    return user


def lock_user(*, session: Session, user_id: int) -> User | None:
    """The user row, locked against a concurrent change until the transaction ends
    (SQLite's write transaction already holds the database lock)."""
    query = select(User).where(User.id == user_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).first()


# -- sessions -----------------------------------------------------------------------------


def add_session(*, session: Session, **fields: object) -> AuthSession:
    now = utc_now()
    row = AuthSession(created_at=now, last_seen_at=now, **fields)  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    return row


def session_with_user(*, session: Session, session_id: int) -> tuple[AuthSession, User] | None:
    """One session and its person in one query: the check every page run makes."""
    row = session.exec(
        select(AuthSession, User).join(User, col(User.id) == col(AuthSession.user_id))
        .where(AuthSession.id == session_id)
    ).first()
    return (row[0], row[1]) if row else None


def session_by(*, session: Session, **hash_field: str) -> AuthSession | None:
    """The session whose `token_hash`, `handoff_hash` or `sso_key` is the given value."""
    ((name, value),) = hash_field.items()
    if name not in ("token_hash", "handoff_hash", "sso_key"):
        raise TypeError(f"sessions are not looked up by {name!r}")
    return session.exec(select(AuthSession).where(getattr(AuthSession, name) == value)).first()


def end_sessions(
    *, session: Session, user_id: int, reason: str, now: datetime | None = None,
    keep: int | None = None,
) -> list[int]:
    """End every open session of a user (but `keep`); returns the ids ended."""
    now = now or utc_now()
    query = select(AuthSession.id).where(
        AuthSession.user_id == user_id, col(AuthSession.ended_at).is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ids = [i for i in session.exec(query).all() if i is not None]
    if ids:
        session.exec(  # type: ignore[call-overload]
            update(AuthSession).where(col(AuthSession.id).in_(ids))
            .values(ended_at=now, end_reason=reason, handoff_hash=None)
        )
    return ids


def open_sessions(*, session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """How many sessions each of these users has open."""
    if not user_ids:
        return {}
    rows = session.exec(
        select(AuthSession.user_id, func.count()).where(
            col(AuthSession.user_id).in_(list(user_ids)), col(AuthSession.ended_at).is_(None)
        ).group_by(AuthSession.user_id)
    ).all()
    return {user_id: int(n) for user_id, n in rows}


# -- failed sign-ins ----------------------------------------------------------------------


def add_failure(*, session: Session, username: str, address: str) -> None:
    session.add(SignInFailure(username=username, address=address, created_at=utc_now()))
    session.flush()


def failures_since(
    *, session: Session, since: datetime, username: str | None = None, address: str | None = None
) -> list[datetime]:
    """When the failures for this username (or from this address) since `since` happened,
    oldest first."""
    query = select(SignInFailure.created_at).where(SignInFailure.created_at >= since)
    if username is not None:
        query = query.where(SignInFailure.username == username)
    if address is not None:
        query = query.where(SignInFailure.address == address)
    return list(session.exec(query.order_by(col(SignInFailure.created_at))).all())


def forget_failures(*, session: Session, username: str | None = None, before: datetime | None = None) -> None:
    """Drop a username's failures (after it signs in) or every failure older than `before`."""
    query = delete(SignInFailure)
    if username is not None:
        query = query.where(col(SignInFailure.username) == username)
    if before is not None:
        query = query.where(col(SignInFailure.created_at) < before)
    session.exec(query)  # type: ignore[call-overload]
