"""People: add, list, change role, disable and enable, reset a password, hand one
person's conversations to another. Admins only (the CLI acts as an admin), every change
audited in its own transaction, and never the last active admin removed.

    users.add(actor, "ana", role="agent", password=pw, display_name="Ana Ruiz")
    users.set_role(actor, "ana", "qa")     # ends Ana's sessions at once
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import col, select

from chatbot import store
from chatbot.errors import InputError, NotFoundError
from chatbot.store import users as rows
from chatbot.store.auth_models import PLACEHOLDER_USERNAME, SYSTEM_USERNAME, User

from .audit import AuditLog
from .passwords import hash_password, password_problem
from .policy import Access, can
from .roles import Actor, Role, parse_role

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")
RESERVED = frozenset({SYSTEM_USERNAME, PLACEHOLDER_USERNAME, "admin-setup", "anonymous"})
MAX_DISPLAY_NAME = 80


class UserExists(InputError):
    """That username is taken (whatever its case)."""


class NoSuchUser(NotFoundError):
    """No account has that username."""


class LastAdmin(InputError):
    """The change would leave no active admin."""


def normal_username(text: str) -> str:
    """The username as stored (case-folded), or InputError saying what is allowed."""
    name = unicodedata.normalize("NFKC", str(text or "")).strip().casefold()
    if not _USERNAME.match(name):
        raise InputError(
            "A username is 1 to 64 characters: letters, digits and . _ @ + -, starting with "
            "a letter or digit."
        )
    return name


def clean_display_name(text: str | None, fallback: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", str(text or "")).split())
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    if len(name) > MAX_DISPLAY_NAME:
        raise InputError(f"A display name is at most {MAX_DISPLAY_NAME} characters.")
    return name or fallback


def clean_email(text: str | None) -> str | None:
    email = str(text or "").strip()
    if not email:
        return None
    if len(email) > 254 or not re.match(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$", email):
        raise InputError(f"{email[:60]!r} is not an e-mail address.")
    return email


@dataclass(frozen=True)
class UserView:
    """What admins see of a person: never the password hash."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: Role
    active: bool
    source: str
    created_at: datetime
    last_sign_in_at: datetime | None
    open_sessions: int = 0

    @classmethod
    def of(cls, user: User, sessions: int = 0) -> UserView:
        return cls(
            id=user.id or 0, username=user.username, display_name=user.display_name,
            email=user.email, role=Role(user.role), active=user.active, source=user.source,
            created_at=user.created_at, last_sign_in_at=user.last_sign_in_at, open_sessions=sessions,
        )


def _new_account(
    username: str, role: str | Role, password: str | None, display_name: str | None, email: str | None,
    source: str, sso_subject: str | None,
) -> dict[str, Any]:
    """The new row's fields, checked (name, role, password rules) and the password hashed."""
    name = normal_username(username)
    if name in RESERVED:
        raise InputError(f"{name!r} is reserved; choose another username.")
    chosen = parse_role(role, allow_none=source in ("oidc", "header"))
    if source == "password":
        problem = password_problem(password or "", username=name)
        if problem:
            raise InputError(problem)
    return dict(
        username=name, display_name=clean_display_name(display_name, str(username).strip()),
        email=clean_email(email), role=chosen.value, active=True, source=source, sso_subject=sso_subject,
        password_hash=hash_password(password) if password else None,
    )


def find_account(session: Any, username: str, *, lock: bool = False) -> User:
    """The account `username` names (any case), or NoSuchUser."""
    try:
        name = normal_username(username)
    except InputError:
        raise NoSuchUser(f"There is no account named {str(username)[:64]!r}.") from None
    user = rows.find_user(session=session, username=name, lock=lock)
    if user is None:
        raise NoSuchUser(f"There is no account named {name!r}.")
    return user


class UserService:
    def __init__(self, engine: Engine, audit: AuditLog, access: Access) -> None:
        self.engine = engine
        self.audit = audit
        self.access = access

    # -- reading ---------------------------------------------------------------------------

    def list(self, actor: Actor) -> list[UserView]:
        self.access.require(actor, "users.manage")
        with store.read_session(self.engine) as session:
            users = rows.list_users(session=session)
            counts = rows.open_sessions(session=session, user_ids=[u.id for u in users if u.id])
        return [UserView.of(u, counts.get(u.id or 0, 0)) for u in users]

    def get(self, actor: Actor, username: str) -> UserView:
        self.access.require(actor, "users.manage")
        with store.read_session(self.engine) as session:
            return UserView.of(find_account(session, username))

    def usernames(self, actor: Actor) -> list[str]:
        """Everyone's username, for pickers (budgets per person, QA's agent filter)."""
        if not any(can(actor, p) for p in ("users.manage", "budgets.manage", "qa.read", "usage.read")):
            self.access.require(actor, "users.manage")
        with store.read_session(self.engine) as session:
            return list(session.exec(select(User.username).order_by(col(User.username))).all())

    def needs_first_admin(self) -> bool:
        """True until an admin account exists: the instance is not claimed yet."""
        with store.read_session(self.engine) as session:
            return rows.count_users(session=session, role=Role.ADMIN.value) == 0

    # -- changes ---------------------------------------------------------------------------

    def add(
        self, actor: Actor, username: str, *, role: str | Role, password: str | None,
        display_name: str | None = None, email: str | None = None, source: str = "password",
        sso_subject: str | None = None,
    ) -> UserView:
        self.access.require(actor, "users.manage")
        return self.provision(username, role=role, password=password, display_name=display_name,
                              email=email, source=source, sso_subject=sso_subject, by=actor)

    def provision(
        self, username: str, *, role: str | Role, password: str | None, display_name: str | None = None,
        email: str | None = None, source: str = "password", sso_subject: str | None = None,
        by: Actor | None = None,
    ) -> UserView:
        """Make the account, unchecked: for `add` (which checks the admin first) and for
        tests and scripts. Pages call `add`."""
        fields = _new_account(username, role, password, display_name, email, source, sso_subject)
        with store.write_session(self.engine) as session:  # the slow hash is made already
            return UserView.of(self._insert(session, fields, by))

    def provision_in(
        self, session: Any, username: str, *, role: str | Role, password: str | None,
        display_name: str | None = None, email: str | None = None, source: str = "password",
        sso_subject: str | None = None, by: Actor | None = None,
    ) -> User:
        """`provision` inside the caller's transaction, returning the row: for the sign-in
        paths that make accounts (the first admin, SSO, a trusted proxy's user), where
        there is no one to check yet."""
        fields = _new_account(username, role, password, display_name, email, source, sso_subject)
        return self._insert(session, fields, by)

    def _insert(self, session: Any, fields: dict[str, Any], by: Actor | None) -> User:
        name = fields["username"]
        if rows.find_user(session=session, username=name) is not None:
            raise UserExists(f"There is already an account named {name!r}.")
        user = rows.add_user(session=session, **fields)
        self.audit.append(session, by, "user.create", target=f"user:{name}",
                          detail=f"role {fields['role']}, {fields['source']}")
        return user

    def set_role(self, actor: Actor, username: str, role: str | Role) -> UserView:
        self.access.require(actor, "users.manage")
        new = parse_role(role, allow_none=True)
        with store.write_session(self.engine) as session:
            user = find_account(session, username, lock=True)
            old = Role(user.role)
            if old == new:
                return UserView.of(user)
            if old == Role.ADMIN:
                self._keep_an_admin(session, user, "change the role of")
            rows.change_user(session=session, user=user, role=new.value)
            rows.end_sessions(session=session, user_id=user.id or 0, reason="role changed")
            self.audit.append(session, actor, "user.role", target=f"user:{user.username}",
                              detail=f"{old.value} -> {new.value}")
            return UserView.of(user)

    def set_active(self, actor: Actor, username: str, active: bool) -> UserView:
        self.access.require(actor, "users.manage")
        with store.write_session(self.engine) as session:
            user = find_account(session, username, lock=True)
            if user.active == active:
                return UserView.of(user)
            if not active:
                if user.username == actor.username:
                    raise InputError("You cannot disable your own account; ask another admin.")
                if user.role == Role.ADMIN.value:
                    self._keep_an_admin(session, user, "disable")
            rows.change_user(session=session, user=user, active=active)
            if not active:
                rows.end_sessions(session=session, user_id=user.id or 0, reason="disabled")
            self.audit.append(session, actor, "user.enable" if active else "user.disable",
                              target=f"user:{user.username}")
            return UserView.of(user)

    def disable(self, actor: Actor, username: str) -> UserView:
        return self.set_active(actor, username, False)

    def enable(self, actor: Actor, username: str) -> UserView:
        return self.set_active(actor, username, True)

    def reset_password(self, actor: Actor, username: str, password: str) -> UserView:
        """A new password; every session of theirs ends (a reset is often for a leak)."""
        self.access.require(actor, "users.manage")
        problem = password_problem(password, username=str(username).strip().casefold())
        if problem:
            raise InputError(problem)
        stored = hash_password(password)  # before the write transaction: it takes a tenth of a second
        with store.write_session(self.engine) as session:
            user = find_account(session, username, lock=True)
            if user.source == "placeholder":
                raise InputError("The shared account from before sign-in cannot have a password.")
            rows.change_user(session=session, user=user, password_hash=stored)
            rows.end_sessions(session=session, user_id=user.id or 0, reason="password reset")
            self.audit.append(session, actor, "user.password", target=f"user:{user.username}")
            return UserView.of(user)

    def update(self, actor: Actor, username: str, *, display_name: str | None = None,
               email: str | None = None) -> UserView:
        self.access.require(actor, "users.manage")
        with store.write_session(self.engine) as session:
            user = find_account(session, username, lock=True)
            before = (user.display_name, user.email)
            name = clean_display_name(display_name, user.display_name) if display_name is not None else user.display_name
            mail = clean_email(email) if email is not None else user.email
            if (name, mail) == before:
                return UserView.of(user)
            rows.change_user(session=session, user=user, display_name=name, email=mail)
            self.audit.append(session, actor, "user.update", target=f"user:{user.username}",
                              detail=f"{before[0]!r} <{before[1] or ''}> -> {name!r} <{mail or ''}>")
            return UserView.of(user)

    def reassign(self, actor: Actor, from_username: str, to_username: str) -> int:
        """Hand every conversation of one account to another (for the shared account from
        before sign-in, or someone who left). Returns how many moved."""
        self.access.require(actor, "users.manage")
        with store.write_session(self.engine) as session:
            source = find_account(session, from_username)
            target = find_account(session, to_username)
            if source.id == target.id:
                raise InputError("Pick a different person to hand the conversations to.")
            result = session.exec(  # type: ignore[call-overload]
                update(store.Conversation).where(col(store.Conversation.owner) == source.username)
                .values(owner=target.username)
            )
            moved = int(result.rowcount or 0)
            self.audit.append(session, actor, "user.reassign", target=f"user:{source.username}",
                              detail=f"{moved} conversations -> {target.username}")
            return moved

    # -- internals -------------------------------------------------------------------------

    def _keep_an_admin(self, session: Any, user: User, doing: str) -> None:
        """Refuse a change that leaves no active admin (admins locked first on PostgreSQL,
        so two admins demoting each other at once cannot both succeed)."""
        query = select(User.id).where(User.role == Role.ADMIN.value, col(User.active).is_(True))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        admins = [i for i in session.exec(query).all() if i != user.id]
        if user.active and not admins:
            raise LastAdmin(
                f"You cannot {doing} {user.username}: they are the last active admin. "
                "Make someone else an admin first."
            )
