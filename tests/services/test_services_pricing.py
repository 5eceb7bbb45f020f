"""Pricing: exact costs from the shipped table, unknown models flagged, the admin's
override file, and clear errors for a broken one."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest

from chatbot import pricing
from chatbot.llm import Usage
from chatbot.pricing import PRICES_ENV, Cost, PriceFileError, load_prices

OFFERED = (
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-5-5",
    "claude-sonnet-4-6",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-5",
    "claude-3-5-haiku-latest",
)


@pytest.fixture
def prices():
    return load_prices({}, dotenv_path=None)


def write(tmp_path, data, name="prices.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_every_model_the_app_offers_is_priced_with_a_source(prices):
    for model in OFFERED:
        price = prices.find(model)
        assert price is not None, model
        assert price.source, model
        assert price.rates.output > price.rates.input > price.rates.cache_read > 0


def test_list_prices_match_the_published_ones(prices):
    # USD per million tokens: input, output, 5-minute cache write, cache read.
    expected = {
        "claude-sonnet-4-5": ("3", "15", "3.75", "0.3"),
        "claude-sonnet-4-6": ("3", "15", "3.75", "0.3"),
        "claude-haiku-4-5": ("1", "5", "1.25", "0.1"),
        "claude-opus-4-5": ("5", "25", "6.25", "0.5"),
        "claude-3-5-haiku-latest": ("0.8", "4", "1", "0.08"),
    }
    for model, rates in expected.items():
        r = prices.find(model).rates
        assert (r.input, r.output, r.cache_write, r.cache_read) == tuple(map(Decimal, rates)), model


def test_cost_is_exact_arithmetic_with_cache_writes_and_reads(prices):
    usage = Usage(
        input_tokens=1_000,
        output_tokens=500,
        cache_creation_input_tokens=2_000,
        cache_read_input_tokens=10_000,
    )
    # 1,000 x $3 + 500 x $15 + 2,000 x $3.75 + 10,000 x $0.30, per million tokens.
    assert prices.cost("claude-sonnet-4-5", usage) == Cost(usd=0.021, priced=True)
    # 1,000 x $1 + 500 x $5 + 2,000 x $1.25 + 10,000 x $0.10
    assert prices.cost("claude-haiku-4-5", usage).usd == 0.007
    # 1,000 x $5 + 500 x $25 + 2,000 x $6.25 + 10,000 x $0.50
    assert prices.cost("claude-opus-4-5", usage).usd == 0.035
    assert prices.cost("claude-sonnet-4-5", Usage(input_tokens=1, output_tokens=0)).usd == 0.000003


def test_no_tokens_cost_nothing_but_are_priced(prices):
    assert prices.cost("claude-haiku-4-5", Usage()) == Cost(usd=0.0, priced=True)


def test_a_long_prompt_is_priced_at_the_long_prompt_rates(prices):
    short = prices.cost("claude-haiku-5-5", Usage(input_tokens=100_000, output_tokens=1_000))
    long = prices.cost("claude-haiku-5-5", Usage(input_tokens=60_000, output_tokens=1_000,
                                                cache_read_input_tokens=40_001))
    # 100,000 x $0.10 + 1,000 x $0.50 (the prompt is exactly at the threshold)
    assert short.usd == 0.0105
    # Over 100,000 prompt tokens: every token at the higher rates, output included.
    # 60,000 x $0.50 + 1,000 x $2.50 + 40,001 x $0.05
    assert long.usd == 0.03450005


def test_a_dated_snapshot_id_or_alias_finds_its_model(prices):
    usage = Usage(input_tokens=1_000_000)
    assert prices.cost("claude-sonnet-4-5-20250929", usage).usd == 3.0
    assert prices.cost("claude-haiku-4-5-20991231", usage).usd == 1.0
    assert prices.cost("claude-3-5-haiku-20241022", usage).usd == 0.8


def test_an_unknown_model_is_flagged_never_priced_at_zero(prices):
    for model in ("claude-next-9", "", None):
        assert prices.cost(model, Usage(input_tokens=10, output_tokens=10)) == Cost(None, False)
    assert "claude-next-9" not in prices and "claude-opus-4-5" in prices


def test_a_cache_hit_costs_nothing_even_for_an_unknown_model(prices):
    usage = Usage(input_tokens=5_000, output_tokens=800)
    assert prices.cost("claude-opus-4-5", usage, cache_hit=True) == Cost(0.0, True)
    assert prices.cost("claude-next-9", usage, cache_hit=True) == Cost(0.0, True)


def test_an_override_file_replaces_and_adds_models(tmp_path):
    path = write(tmp_path, {
        "about": "our negotiated prices",
        "models": {
            "claude-sonnet-4-5": {"input": 2, "output": 10, "cache_write": 2.5, "cache_read": 0.2},
            "claude-next-9": {"input": 1, "output": 2, "cache_write": 0, "cache_read": 0,
                              "source": "contract 2026-11"},
        },
    })
    prices = load_prices({PRICES_ENV: str(path)}, dotenv_path=None)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert prices.cost("claude-sonnet-4-5", usage).usd == 12.0
    assert prices.cost("claude-next-9", usage).usd == 3.0
    assert prices.cost("claude-haiku-4-5", usage).usd == 6.0  # not in the file: shipped price
    assert prices.origin[-1] == str(path)


def test_the_override_file_can_come_from_dotenv(tmp_path):
    path = write(tmp_path, {"models": {"m-1": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1}}})
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"{PRICES_ENV}={path}\n")
    assert "m-1" in load_prices({}, dotenv_path=str(dotenv))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"models": {"m": {"input": NaN}}}', "not valid JSON"),
        ([], "expected a JSON object"),
        ({"model": {}}, "unknown top-level field 'model'"),
        ({"models": []}, "'models' must be an object"),
        ({"models": {"m-1": 3}}, "model 'm-1': expected an object"),
        ({"models": {"m-1": {"input": 1, "output": 1, "cache_write": 1}}},
         "model 'm-1': field 'cache_read' is missing"),
        ({"models": {"m-1": {"input": 1, "output": "15", "cache_write": 1, "cache_read": 1}}},
         "model 'm-1': field 'output' must be a number"),
        ({"models": {"m-1": {"input": -1, "output": 1, "cache_write": 1, "cache_read": 1}}},
         "model 'm-1': field 'input' must be a number of USD per million tokens, 0 or more"),
        ({"models": {"m-1": {"input": True, "output": 1, "cache_write": 1, "cache_read": 1}}},
         "field 'input' must be a number"),
        ({"models": {"m-1": {"input": 1, "ouput": 1, "output": 1, "cache_write": 1, "cache_read": 1}}},
         "model 'm-1': unknown field 'ouput'"),
        ({"models": {"m-1": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1,
                             "long_prompt": {"above_tokens": 0}}}},
         "field 'long_prompt.above_tokens' must be a positive whole number"),
        ({"models": {"m-1": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1,
                             "long_prompt": {"above_tokens": 10, "input": 2, "output": 2,
                                             "cache_write": 2}}}},
         "field 'long_prompt.cache_read' is missing"),
        ({"models": {"m-1": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1,
                             "aliases": "m"}}},
         "field 'aliases' must be a list"),
        ({"models": {"m-1": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1, "aliases": ["x"]},
                     "m-2": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1, "aliases": ["x"]}}},
         "alias 'x' is given for both 'm-1' and 'm-2'"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file_model_and_field(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(PriceFileError) as caught:
        load_prices({PRICES_ENV: str(path)}, dotenv_path=None)
    assert message in str(caught.value)
    if "alias" not in message:
        assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)  # start-up code reports ValueErrors as settings


def test_a_missing_override_file_is_an_error_not_silence(tmp_path):
    with pytest.raises(PriceFileError, match="cannot be read"):
        load_prices({PRICES_ENV: str(tmp_path / "nope.json")}, dotenv_path=None)


def test_the_process_table_rereads_an_edited_file_and_never_raises_for_recording(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no developer .env
    path = write(tmp_path, {"models": {"m-1": {"input": 1, "output": 0, "cache_write": 0, "cache_read": 0}}})
    monkeypatch.setenv(PRICES_ENV, str(path))
    usage = Usage(input_tokens=1_000_000)
    assert pricing.cost("m-1", usage).usd == 1.0

    write(tmp_path, {"models": {"m-1": {"input": 2, "output": 0, "cache_write": 0, "cache_read": 0}}})
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse-grained filesystems
    assert pricing.cost("m-1", usage).usd == 2.0

    write(tmp_path, "{broken")
    os.utime(path, ns=(2, 2))
    with pytest.raises(PriceFileError):
        pricing.default_prices()
    assert pricing.cost_usd("m-1", usage) is None  # recorded as unpriced; the reply is saved

    monkeypatch.delenv(PRICES_ENV)
    assert pricing.cost_usd("claude-haiku-4-5", usage) == 1.0
