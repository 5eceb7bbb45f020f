"""Fitting a conversation into the model's context budget (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.llm import Turn
from chatbot.services.context import (
    estimate_tokens,
    fit_history,
    history_budget,
    turns_from_messages,
)


@dataclass
class Row:
    role: str
    content: str
    status: str = "complete"


def test_failed_and_streaming_replies_are_left_out_and_roles_merged():
    rows = [
        Row("assistant", "greeting before any user turn"),
        Row("user", "first"),
        Row("assistant", "", "error"),
        Row("user", "second"),
        Row("assistant", "half a rep", "partial"),
        Row("user", "third"),
        Row("assistant", "", "streaming"),
    ]
    turns = turns_from_messages(rows)
    assert turns == [
        Turn("user", "first\n\nsecond"),
        Turn("assistant", "half a rep"),
        Turn("user", "third"),
    ]


def test_everything_fits_in_a_large_budget():
    turns = [Turn("user", "a" * 100), Turn("assistant", "b" * 100), Turn("user", "c")]
    fitted = fit_history(turns, system="sys", budget_tokens=10_000)
    assert fitted.turns == turns and fitted.dropped == 0


def test_oldest_turns_are_dropped_and_history_starts_with_user():
    turns = []
    for i in range(10):
        turns += [Turn("user", f"question {i} " * 20), Turn("assistant", f"answer {i} " * 20)]
    turns.append(Turn("user", "latest"))
    fitted = fit_history(turns, system="s" * 70, budget_tokens=300)
    assert 0 < fitted.dropped < len(turns)
    assert fitted.turns[0].role == "user"
    assert fitted.turns[-1] == Turn("user", "latest")
    assert fitted.turns == turns[fitted.dropped :]
    assert fitted.tokens <= 300


def test_the_last_user_turn_is_always_kept_even_over_budget():
    turns = [Turn("user", "x" * 10_000)]
    fitted = fit_history(turns, system="", budget_tokens=10)
    assert fitted.turns == turns and fitted.dropped == 0


def test_budget_defaults_to_window_less_reply():
    assert history_budget("claude-sonnet-4-5", 1024, None) == 200_000 - 1024
    assert history_budget("claude-sonnet-4-5", 1024, 500) == 500


def test_estimate_is_conservative_for_prose():
    text = "The quick brown fox jumps over the lazy dog. " * 10
    assert estimate_tokens(text) >= len(text.split())


def test_long_persona_prompts_are_marked_for_prompt_caching():
    from chatbot.personas import SUPPORT
    from chatbot.services.context import build_request, min_cacheable

    short = build_request(SUPPORT, system="Be brief.", turns=[Turn("user", "hi")])
    assert short.to_body(stream=True)["system"] == "Be brief."
    long_prompt = "Policy detail. " * (min_cacheable(SUPPORT.model) // 2)
    body = build_request(SUPPORT, system=long_prompt, turns=[Turn("user", "hi")]).to_body(stream=True)
    assert body["system"] == [
        {"type": "text", "text": long_prompt, "cache_control": {"type": "ephemeral"}}
    ]
    assert min_cacheable("claude-haiku-4-5") == 4096 and min_cacheable("claude-sonnet-5-5") == 1024
