"""OpenID Connect accounts: the claims of a sign-in (Streamlit's `st.user`) become who the
person is in the app, and which role the configured claim gives them.

Streamlit's `st.login` does the protocol (Authlib: discovery, PKCE, the ID token checked
against the provider's keys) and keeps the claims in a signed cookie; we never see the
client secret or a token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatbot.errors import InputError, StatedError

from .accounts import clean_email, normal_username
from .roles import Role
from .settings import AuthSettings
from .tokens import digest


class SSOClaimsError(StatedError):
    """The identity provider's answer lacks what a sign-in needs."""


@dataclass(frozen=True)
class SSOIdentity:
    subject: str  # "<issuer> <sub>": unique and permanent for this account
    username: str
    display_name: str
    email: str | None
    role: Role | None  # None: no claim value is mapped; the account keeps (or gets) the default


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _usable(check: Any, value: str) -> bool:
    try:
        check(value)
    except InputError:
        return False
    return True


def mapped_role(claims: Mapping[str, Any], settings: AuthSettings) -> Role | None:
    """The highest role any value of the role claim maps to ("groups": [...] or a string)."""
    raw = claims.get(settings.sso_role_claim)
    values = raw if isinstance(raw, list | tuple) else [raw] if raw is not None else []
    found = {settings.sso_roles[v] for v in (str(x) for x in values) if v in settings.sso_roles}
    for role in (Role.ADMIN, Role.QA, Role.AGENT):
        if role in found:
            return role
    return None


def identity_from_claims(claims: Mapping[str, Any], settings: AuthSettings) -> SSOIdentity:
    issuer, sub = _text(claims.get("iss")), _text(claims.get("sub"))
    if not issuer or not sub:
        raise SSOClaimsError("The sign-in provider did not say who you are (no issuer or subject). Tell an admin.")
    # The first configured claim that makes a valid username ("Ana Ruiz" does not): a
    # display name in preferred_username would otherwise become "user", "user-2"...
    values = [_text(claims.get(c)) for c in settings.sso_username_claims]
    username = next((v for v in values if v and _usable(normal_username, v[:64])), sub)
    email = _text(claims.get("email")) or None
    if email and (claims.get("email_verified") is False or not _usable(clean_email, email)):
        # Not shown as theirs: an address the provider has not verified, or one our
        # accounts refuse (it would fail the account's creation, and so the sign-in).
        email = None
    display = _text(claims.get("name")) or username
    return SSOIdentity(f"{issuer} {sub}", username[:64], display[:80], email, mapped_role(claims, settings))


def sso_key(claims: Mapping[str, Any]) -> str:
    """One key per sign-in at the provider: a new sign-in there has a new `iat` (and
    nonce), so a session we ended stays ended until the person signs in again."""
    parts = {k: claims.get(k) for k in ("iss", "sub", "aud", "iat", "nonce", "auth_time", "sid")}
    return digest(json.dumps(parts, sort_keys=True, default=str))
