"""Sign-in and network settings, read once from the environment or `.env` (the README's
configuration table lists them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from chatbot.env import positive, read_env

from .network import Networks
from .roles import Role, parse_role

_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class AuthSettings:
    # A session ends after this long without a page run, and at the latest this long
    # after sign-in.
    idle_minutes: float = 120.0
    max_hours: float = 12.0
    # Failed sign-ins allowed per username and per client address within the window.
    max_failures: int = 5
    max_failures_per_address: int = 20
    failure_window_minutes: float = 15.0
    # Proxies whose X-Forwarded-For (and trusted user header) we believe.
    trusted_proxies: Networks = field(default_factory=Networks)
    # If set, only clients in these networks reach the app at all.
    allowed_networks: Networks = field(default_factory=Networks)
    # The header an authenticating proxy puts the signed-in username in (lower case).
    trusted_user_header: str | None = None
    # OpenID Connect (st.login): the claim that carries groups or roles, claim value ->
    # role, and the role of an account none of its values maps.
    sso_provider: str | None = None  # a named [auth.<provider>] section; None: [auth] itself
    sso_label: str = "Sign in with single sign-on"
    sso_role_claim: str = "groups"
    sso_roles: Mapping[str, Role] = field(default_factory=dict)
    new_user_role: Role = Role.NONE
    sso_username_claims: tuple[str, ...] = ("preferred_username", "email", "sub")
    # Where the setup link and redirects point; default http://localhost:<port>.
    public_url: str | None = None

    @property
    def idle_seconds(self) -> float:
        return self.idle_minutes * 60

    @property
    def max_seconds(self) -> float:
        return self.max_hours * 3600


def _role_map(text: str) -> dict[str, Role]:
    """"support-admins=admin, support-qa=qa" -> {"support-admins": ADMIN, ...}."""
    roles: dict[str, Role] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        value, sep, role = item.rpartition("=")
        if not sep or not value.strip():
            raise ValueError(f"CHATBOT_SSO_ROLES: {item.strip()!r} is not of the form claim-value=role")
        try:
            roles[value.strip()] = parse_role(role)
        except ValueError as exc:
            raise ValueError(f"CHATBOT_SSO_ROLES: {exc}") from None
    return roles


def load_auth_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> AuthSettings:
    env = read_env(environ, dotenv_path)
    header = (env.get("CHATBOT_TRUSTED_USER_HEADER") or "").strip()
    if header and not _HEADER_NAME.match(header):
        raise ValueError(f"CHATBOT_TRUSTED_USER_HEADER: {header!r} is not a header name")
    proxies = Networks.parse(env.get("CHATBOT_TRUSTED_PROXIES"), setting="CHATBOT_TRUSTED_PROXIES")
    if header and not proxies:
        raise ValueError(
            "CHATBOT_TRUSTED_USER_HEADER needs CHATBOT_TRUSTED_PROXIES: the header is believed "
            "only from the proxies listed there"
        )
    try:
        new_role = parse_role(env.get("CHATBOT_SSO_DEFAULT_ROLE") or "none", allow_none=True)
    except ValueError as exc:
        raise ValueError(f"CHATBOT_SSO_DEFAULT_ROLE: {exc}") from None
    if new_role not in (Role.NONE, Role.AGENT):
        raise ValueError("CHATBOT_SSO_DEFAULT_ROLE must be none or agent: a new account never starts as qa or admin")
    claims = tuple(c.strip() for c in (env.get("CHATBOT_SSO_USERNAME_CLAIMS") or "").split(",") if c.strip())
    public = (env.get("CHATBOT_PUBLIC_URL") or "").strip().rstrip("/") or None
    if public and not re.match(r"^https?://[^\s/]+", public):
        raise ValueError(f"CHATBOT_PUBLIC_URL must be an http(s) URL, got {public!r}")
    return AuthSettings(
        idle_minutes=positive(env, "CHATBOT_SESSION_IDLE_MINUTES", 120.0, float),
        max_hours=positive(env, "CHATBOT_SESSION_MAX_HOURS", 12.0, float),
        max_failures=positive(env, "CHATBOT_SIGNIN_MAX_FAILURES", 5, int),
        max_failures_per_address=positive(env, "CHATBOT_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20, int),
        failure_window_minutes=positive(env, "CHATBOT_SIGNIN_WINDOW_MINUTES", 15.0, float),
        trusted_proxies=proxies,
        allowed_networks=Networks.parse(env.get("CHATBOT_ALLOWED_NETWORKS"), setting="CHATBOT_ALLOWED_NETWORKS"),
        trusted_user_header=header.lower() or None,
        sso_provider=(env.get("CHATBOT_SSO_PROVIDER") or "").strip() or None,
        sso_label=(env.get("CHATBOT_SSO_LABEL") or "").strip() or AuthSettings.sso_label,
        sso_role_claim=(env.get("CHATBOT_SSO_ROLE_CLAIM") or "").strip() or "groups",
        sso_roles=_role_map(env.get("CHATBOT_SSO_ROLES") or ""),
        new_user_role=new_role,
        sso_username_claims=claims or AuthSettings.sso_username_claims,
        public_url=public,
    )
