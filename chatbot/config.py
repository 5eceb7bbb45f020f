"""The app's own settings (everything but the API connection, which `chatbot.llm` owns),
read once from the environment or `.env`. The configuration table in README.md lists them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chatbot.env import positive, read_env

# The model for each purpose other than chat (which uses the persona's model): summaries
# and classification are short, structured jobs, so the cheapest current model does them.
# CHATBOT_MODEL_<PURPOSE> overrides one (e.g. CHATBOT_MODEL_SUMMARY=claude-sonnet-5-5).
DEFAULT_PURPOSE_MODELS: Mapping[str, str] = {"summary": "claude-haiku-5-5", "judge": "claude-haiku-5-5"}
_PURPOSE_PREFIX = "CHATBOT_MODEL_"


@dataclass(frozen=True)
class AppSettings:
    database_url: str
    data_dir: Path
    max_input_chars: int = 20_000
    # Tokens of history (system prompt + turns) a request may carry; None = the model's
    # context window less the reply's max_tokens.
    context_tokens: int | None = None
    sandbox_delay_ms: float = 15.0
    # Seconds between saves of a reply's text while it streams: what a crash could lose.
    flush_interval: float = 1.0
    # Replies in progress are marked alive this often, even while waiting on a retry...
    heartbeat_interval: float = 10.0
    # ...so a "streaming" reply untouched for this long belonged to a process that died.
    stale_after: float = 45.0
    max_generations: int = 32
    # Seconds an identical request is answered from the response cache (0 turns it off).
    cache_ttl: float = 600.0
    # Client-side limit per model, shared by every session (0 turns it off); up to
    # `burst` requests may go at once before the steady pace applies.
    rpm: float = 20.0
    burst: float = 20.0
    # One agent's own pace: beyond it they are slowed and flagged for admins.
    user_rpm: float = 30.0
    # purpose -> model id; see DEFAULT_PURPOSE_MODELS and `model_for`.
    purpose_models: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PURPOSE_MODELS))
    # Seconds between polls of an offline (Message Batches) replay; the API answers within
    # 24 h, often in minutes, and each poll is a request.
    batch_poll_seconds: float = 30.0
    # Where replicas share the rate limiter and response cache; None keeps both in memory.
    # Out of the repr: the URL may hold a password.
    redis_url: str | None = field(default=None, repr=False)


def load_app_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> AppSettings:
    env = read_env(environ, dotenv_path)
    data_dir = Path(env.get("CHATBOT_DATA_DIR") or "data").expanduser().resolve()
    database_url = env.get("CHATBOT_DATABASE_URL") or f"sqlite:///{data_dir / 'chatbot.db'}"
    delay = (env.get("CHATBOT_SANDBOX_DELAY_MS") or "").strip()
    try:
        sandbox_delay = float(delay) if delay else 15.0
    except ValueError:
        raise ValueError(f"CHATBOT_SANDBOX_DELAY_MS must be a number, got {delay!r}") from None
    return AppSettings(
        database_url=database_url,
        data_dir=data_dir,
        max_input_chars=positive(env, "CHATBOT_MAX_INPUT_CHARS", 20_000, int),
        context_tokens=positive(env, "CHATBOT_CONTEXT_TOKENS", 0, int) or None,
        sandbox_delay_ms=max(0.0, sandbox_delay),
        cache_ttl=_off_or_positive(env, "CHATBOT_CACHE_TTL", 600.0),
        rpm=_off_or_positive(env, "CHATBOT_RPM", 20.0),
        burst=positive(env, "CHATBOT_BURST", _off_or_positive(env, "CHATBOT_RPM", 20.0) or 1.0, float),
        user_rpm=positive(env, "CHATBOT_USER_RPM", 30.0, float),
        purpose_models=_purpose_models(env),
        redis_url=(env.get("CHATBOT_REDIS_URL") or "").strip() or None,
        batch_poll_seconds=positive(env, "CHATBOT_BATCH_POLL_SECONDS", 30.0, float),
    )


def _off_or_positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number, or 0 meaning "off"."""
    raw = (env.get(name) or "").strip()
    if raw in ("0", "0.0"):
        return 0.0
    return positive(env, name, default, float)


def _purpose_models(env: Mapping[str, str]) -> dict[str, str]:
    models = dict(DEFAULT_PURPOSE_MODELS)
    for name, value in env.items():
        if name.upper().startswith(_PURPOSE_PREFIX) and len(name) > len(_PURPOSE_PREFIX):
            model = (value or "").strip()
            if model:  # blank means "not set", as for every other setting
                models[name[len(_PURPOSE_PREFIX):].lower()] = model
    return models


def model_for(purpose: str, settings: AppSettings, default: str) -> str:
    """The model configured for `purpose` ("summary", "judge"...), else `default`."""
    return settings.purpose_models.get(purpose) or default
