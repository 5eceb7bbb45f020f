"""Reading settings: the environment over a `.env` file, and checked positive numbers.

`.env` is read into a dict, never into `os.environ`, so its values (the API key above all)
do not leak to subprocesses or to code that dumps the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from dotenv import dotenv_values

N = TypeVar("N", int, float)


def read_env(environ: Mapping[str, str] | None, dotenv_path: str | None) -> dict[str, str]:
    """`.env` values overlaid by the environment (the environment wins, as in the SDK)."""
    env: dict[str, str] = {}
    if dotenv_path and os.path.exists(dotenv_path):
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def positive(env: Mapping[str, str], name: str, default: N, cast: Callable[[str], N]) -> N:
    """`env[name]` as a positive number, `default` when unset, a clear error otherwise."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value
