"""QA checks as stored: create, update, archive, list, get.

Functions flush but never commit; call the writing ones inside ``write_session``. Names
are unique (``uq_qa_check_name``): a duplicate raises `DuplicateCheckName`, found before
the insert so the message can name it, and caught at the constraint for the race.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from chatbot.errors import InputError
from chatbot.store.errors import NotFoundError
from chatbot.store.qa_models import CheckResult, QACheck

_UPDATABLE = frozenset({"name", "kind", "config", "description", "archived"})


class DuplicateCheckName(InputError):
    """Another check already has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"A check named {name!r} already exists. Choose another name, or edit that one.")


def _name_taken(session: Session, name: str, *, other_than: int | None = None) -> bool:
    # Case-insensitive: "No refunds" and "no refunds" side by side would only confuse.
    query = select(QACheck.id).where(func.lower(QACheck.name) == name.lower())
    if other_than is not None:
        query = query.where(QACheck.id != other_than)
    return session.exec(query).first() is not None


def create_check(
    *, session: Session, name: str, kind: str, config: dict[str, Any], description: str = "", created_by: str
) -> QACheck:
    if _name_taken(session, name):
        raise DuplicateCheckName(name)
    row = QACheck(name=name, kind=kind, config=config, description=description, created_by=created_by)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DuplicateCheckName(name) from None
    return row


def get_check(*, session: Session, check_id: int) -> QACheck | None:
    return session.get(QACheck, check_id)


def require_check(*, session: Session, check_id: int) -> QACheck:
    row = get_check(session=session, check_id=check_id)
    if row is None:
        raise NotFoundError(f"check {check_id} does not exist")
    return row


def update_check(*, session: Session, check_id: int, **fields: Any) -> QACheck:
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise TypeError(f"unknown qa_check fields: {', '.join(sorted(unknown))}")
    row = require_check(session=session, check_id=check_id)
    if "name" in fields and _name_taken(session, fields["name"], other_than=check_id):
        raise DuplicateCheckName(fields["name"])
    for name, value in fields.items():
        setattr(row, name, value)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DuplicateCheckName(fields.get("name", row.name)) from None
    return row


def list_checks(
    *, session: Session, include_archived: bool = False, ids: list[int] | None = None
) -> list[QACheck]:
    """By name; `ids` picks given checks (archived or not: a run keeps the ones it chose)."""
    query = select(QACheck)
    if ids is not None:
        query = query.where(col(QACheck.id).in_(ids))
    elif not include_archived:
        query = query.where(col(QACheck.archived).is_(False))
    return list(session.exec(query.order_by(func.lower(QACheck.name), col(QACheck.id))).all())


def check_result_count(*, session: Session, check_id: int) -> int:
    """How many replayed replies this check has graded (its settings are then frozen)."""
    query = select(func.count()).select_from(CheckResult).where(CheckResult.check_id == check_id)
    return int(session.exec(query).one())
