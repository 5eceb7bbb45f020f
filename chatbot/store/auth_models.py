"""Identity tables: people, their sign-in sessions, failed sign-ins, and the audit log.

Everything else names a person by `app_user.username` (the `owner`, `created_by`, `by`
columns): usernames are stored case-folded, unique, and never change, so those plain
string columns are a stable key without a foreign key on every table.

Secrets are never stored here: a password only as its argon2id hash, a session token and
a sign-in handoff code only as their SHA-256 (they are 256-bit random values, so a fast
hash is enough: there is nothing to guess).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .models import PLACEHOLDER_USERNAME, SYSTEM_USERNAME, UTCDateTime, _timestamp

__all__ = ["PLACEHOLDER_USERNAME", "SYSTEM_USERNAME", "AuditEntry", "AuthSession", "SignInFailure", "User"]


class User(SQLModel, table=True):
    """A person who may use the app, with one role."""

    __tablename__ = "app_user"  # "user" is a reserved word on PostgreSQL
    __table_args__ = (
        UniqueConstraint("username", name="uq_app_user_username"),
        UniqueConstraint("sso_subject", name="uq_app_user_sso_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(nullable=False)  # case-folded: unique whatever the case typed
    display_name: str = Field(nullable=False)
    email: str | None = None
    role: str = Field(nullable=False)  # chatbot.auth.roles.Role
    active: bool = Field(default=True, nullable=False)
    password_hash: str | None = Field(default=None, repr=False)
    # How this person signs in: "password", "oidc", "header" or "placeholder".
    source: str = Field(default="password", nullable=False)
    # "<issuer> <subject>" of an OpenID Connect account; None for everyone else.
    sso_subject: str | None = None
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthSession(SQLModel, table=True):
    """One signed-in browser. Ends on sign-out, idle or absolute expiry, or when the
    person is disabled or their role or password changes."""

    __tablename__ = "auth_session"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_auth_session_token_hash"),
        UniqueConstraint("handoff_hash", name="uq_auth_session_handoff_hash"),
        UniqueConstraint("sso_key", name="uq_auth_session_sso_key"),
        Index("ix_auth_session_user_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("app_user.id", ondelete="CASCADE", name="fk_auth_session_user_id_app_user"),
            nullable=False,
        )
    )
    method: str = Field(nullable=False)  # "password", "setup", "oidc", "header"
    # SHA-256 of the cookie's token; set when the browser redeems its handoff code.
    token_hash: str | None = Field(default=None, repr=False)
    # SHA-256 of the one-time code that turns this session into a cookie, and its deadline.
    handoff_hash: str | None = Field(default=None, repr=False)
    handoff_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # SHA-256 of the identity-token claims of an SSO sign-in (one per sign-in at the IdP).
    sso_key: str | None = Field(default=None, repr=False)
    address: str | None = None  # the client address at sign-in
    created_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)  # absolute lifetime
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_reason: str | None = None


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, counted per username and per address to throttle guessing."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        Index("ix_sign_in_failure_username", "username", "created_at"),
        Index("ix_sign_in_failure_address", "address", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(nullable=False)  # as typed, case-folded; may name nobody
    address: str = Field(default="", nullable=False)
    created_at: datetime = _timestamp()


class AuditEntry(SQLModel, table=True):
    """One security-relevant or administrative action. Append-only: the app has no code
    that changes or deletes an entry, and database triggers refuse it (migration 0008)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_created_at", "created_at"),
        Index("ix_audit_entry_actor", "actor", "created_at"),
        Index("ix_audit_entry_action", "action", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _timestamp()
    actor: str = Field(default="", nullable=False)  # username; "" for an anonymous browser
    role: str = Field(default="", nullable=False)
    address: str = Field(default="", nullable=False)
    action: str = Field(nullable=False)  # "signin.failure", "persona.publish", ...
    target: str = Field(default="", nullable=False)  # "user:bob", "persona:support v3"
    detail: str = Field(default="", nullable=False)  # a short before -> after
