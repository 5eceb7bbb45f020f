"""The models the sandbox claims to serve; the one place to add or rename one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    id: str
    display_name: str
    created_at: str


# Newest first, as the real /v1/models lists them.
MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-10-01T00:00:00Z"),
    ModelInfo("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-01T00:00:00Z"),
    ModelInfo("claude-opus-5-5", "Claude Opus 5.5", "2026-09-01T00:00:00Z"),
    ModelInfo("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ModelInfo("claude-opus-4-5", "Claude Opus 4.5", "2025-11-24T00:00:00Z"),
    ModelInfo("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ModelInfo("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
    ModelInfo("claude-3-5-haiku-latest", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
)

MODELS_BY_ID: dict[str, ModelInfo] = {model.id: model for model in MODELS}


def find_model(model_id: str) -> ModelInfo | None:
    return MODELS_BY_ID.get(model_id)
