"""Connection settings for the backend client, and the one place that reads the API key.

The key is wrapped in `Secret` the moment it is read, so the only way to see it is to call
`reveal()`, which only the transport-level auth in `client.py` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from chatbot.env import positive, read_env

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"


class Secret:
    """A string that never shows itself in a repr, str, format, pickle or comparison error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # pickling would write the key to wherever the pickle goes
        raise TypeError("Secret cannot be pickled")


@dataclass(frozen=True)
class Timeouts:
    """Seconds. `read` is the longest silence allowed between two chunks of a stream (the
    API sends `ping` events, so a long silence means a stuck connection); `total` bounds a
    whole call, retries included."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 30.0
    total: float = 600.0


@dataclass(frozen=True)
class ClientSettings:
    """Where and how the backend client talks to the Messages API."""

    api_key: Secret = field(default_factory=lambda: Secret(""))
    base_url: str = DEFAULT_BASE_URL
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_attempts: int = 3
    # Backoff between retries: initial * 2**n, capped, with jitter; a server's retry-after
    # longer than `max_retry_wait` is not waited for (the call fails with a clear message).
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    max_retry_wait: float = 60.0
    max_connections: int = 50
    sandbox: bool = False  # True when talking to the built-in sandbox instead of the API

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    def for_sandbox(self, base_url: str) -> ClientSettings:
        """The same settings, pointed at the built-in sandbox (which wants some key)."""
        return replace(self, base_url=base_url, api_key=Secret("sandbox"), sandbox=True)


def load_client_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> ClientSettings:
    """Read settings from the environment, falling back to a `.env` file.

    The environment wins over `.env` (see `chatbot.env.read_env`).
    """
    env = read_env(environ, dotenv_path)

    def number(name: str, default: float) -> float:
        return positive(env, name, default, float)

    defaults = Timeouts()
    timeouts = Timeouts(
        connect=number("CHATBOT_CONNECT_TIMEOUT", defaults.connect),
        read=number("CHATBOT_READ_TIMEOUT", defaults.read),
        write=defaults.write,
        total=number("CHATBOT_TOTAL_TIMEOUT", defaults.total),
    )
    attempts = positive(env, "CHATBOT_MAX_ATTEMPTS", 3, int)
    base_url = (env.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"ANTHROPIC_BASE_URL must start with http:// or https://, got {base_url!r}")
    return ClientSettings(
        api_key=Secret((env.get("ANTHROPIC_API_KEY") or "").strip()),
        base_url=base_url,
        timeouts=timeouts,
        max_attempts=max(1, attempts),
    )
