"""Everything about who is asking, built once per process (the runtime holds one)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from .accounts import UserService
from .audit import AuditLog
from .policy import Access
from .settings import AuthSettings
from .setup import FirstAdmin
from .signin import SignInService


@dataclass
class Identity:
    settings: AuthSettings
    audit: AuditLog
    access: Access
    users: UserService
    signin: SignInService
    first_admin: FirstAdmin


def build_identity(engine: Engine, settings: AuthSettings) -> Identity:
    audit = AuditLog(engine)
    access = Access(audit)
    users = UserService(engine, audit, access)
    signin = SignInService(engine, audit, settings, users)
    return Identity(settings, audit, access, users, signin, FirstAdmin(engine, users, signin, audit))
