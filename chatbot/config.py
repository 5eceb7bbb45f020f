"""The app's own settings (everything but the API connection, which `chatbot.llm` owns),
read once from the environment or `.env`. The configuration table in README.md lists them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values


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
    # A "streaming" reply not saved for this long belonged to a process that died.
    stale_after: float = 120.0
    max_generations: int = 32


def _env(environ: Mapping[str, str] | None, dotenv_path: str | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if dotenv_path and os.path.exists(dotenv_path):
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def load_app_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> AppSettings:
    env = _env(environ, dotenv_path)

    def integer(name: str, default: int | None) -> int | None:
        raw = (env.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {raw!r}")
        return value

    data_dir = Path(env.get("CHATBOT_DATA_DIR") or "data").expanduser().resolve()
    database_url = env.get("CHATBOT_DATABASE_URL") or f"sqlite:///{data_dir / 'chatbot.db'}"
    delay = (env.get("CHATBOT_SANDBOX_DELAY_MS") or "").strip()
    return AppSettings(
        database_url=database_url,
        data_dir=data_dir,
        max_input_chars=integer("CHATBOT_MAX_INPUT_CHARS", 20_000) or 20_000,
        context_tokens=integer("CHATBOT_CONTEXT_TOKENS", None),
        sandbox_delay_ms=float(delay) if delay else 15.0,
    )
