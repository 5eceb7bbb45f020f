"""What an API call cost, from a price table kept as data (``chatbot/data/prices.json``).

    prices = load_prices()                        # the shipped table + CHATBOT_PRICES_FILE
    prices.cost("claude-sonnet-4-5", usage)       # Cost(usd=0.0105, priced=True)
    prices.cost("claude-next-9", usage)           # Cost(usd=None, priced=False): flagged

Prices are USD per million tokens for input, output, 5-minute cache writes and cache
reads. A model missing from the table is *flagged* (``priced=False``), never priced at
$0, so a new model cannot hide its spend. A cache hit (answered by our own response
cache, no API call) costs nothing. A call made through the Message Batches API costs
half (``cost(..., batch=True)``); a model's optional ``batch_multiplier`` overrides the 0.5.

``CHATBOT_PRICES_FILE`` names an admin-edited file in the same format; its entries
replace the shipped ones model by model, and it is re-read when it changes. Both files
are validated when read: a `PriceFileError` names the file, the model and the field.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from chatbot.env import read_env
from chatbot.errors import StatedError

log = logging.getLogger("chatbot.pricing")

PRICES_ENV = "CHATBOT_PRICES_FILE"
SHIPPED_PRICES = Path(__file__).parent / "data" / "prices.json"
RATE_FIELDS = ("input", "output", "cache_write", "cache_read")
_MODEL_FIELDS = frozenset(RATE_FIELDS) | {"long_prompt", "aliases", "source", "batch_multiplier"}
_LONG_FIELDS = frozenset(RATE_FIELDS) | {"above_tokens"}
_TOP_FIELDS = frozenset({"about", "models"})
_MILLION = Decimal(1_000_000)
# The Message Batches API bills every token kind at 50 % of the list price.
BATCH_MULTIPLIER = Decimal("0.5")
# The API answers with dated snapshot ids ("claude-sonnet-4-5-20250929") for an alias.
_SNAPSHOT_DATE = re.compile(r"-\d{8}$")


class PriceFileError(StatedError, ValueError):
    """A price file that cannot be used; the message names the file, model and field."""


class TokenUsage(Protocol):
    """Anything with the API's four usage counters (`chatbot.llm.Usage`, an `ApiCall`)."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


@dataclass(frozen=True)
class Rates:
    """USD per million tokens; Decimal so that sums are exact until the final float."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal


@dataclass(frozen=True)
class ModelPrice:
    model: str
    rates: Rates
    # Some models charge more when the prompt (input + cache writes + cache reads) is
    # longer than `long_prompt_above` tokens, on every token of that request.
    long_prompt: Rates | None = None
    long_prompt_above: int | None = None
    aliases: tuple[str, ...] = ()
    source: str = ""
    batch_multiplier: Decimal = BATCH_MULTIPLIER

    def rates_for(self, prompt_tokens: int) -> Rates:
        if self.long_prompt is not None and prompt_tokens > (self.long_prompt_above or 0):
            return self.long_prompt
        return self.rates


@dataclass(frozen=True)
class Cost:
    """`usd` is None exactly when `priced` is False (a model with no price on file)."""

    usd: float | None
    priced: bool


UNPRICED = Cost(usd=None, priced=False)
FREE = Cost(usd=0.0, priced=True)


class PriceTable:
    """Prices by model id, found by exact id, by alias, or by id without a snapshot date."""

    def __init__(self, prices: Mapping[str, ModelPrice], *, origin: tuple[str, ...] = ()) -> None:
        self.prices = dict(prices)
        self.origin = origin  # the files it was read from, for messages
        self._index: dict[str, ModelPrice] = {}
        for price in self.prices.values():
            for alias in price.aliases:
                other = self._index.get(alias)
                if other is not None and other.model != price.model:
                    raise PriceFileError(
                        f"price table: alias {alias!r} is given for both {other.model!r} "
                        f"and {price.model!r}"
                    )
                self._index[alias] = price
        self._index.update(self.prices)  # a model's own id wins over another's alias

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.find(model) is not None

    def find(self, model: str | None) -> ModelPrice | None:
        if not model:
            return None
        return self._index.get(model) or self._index.get(_SNAPSHOT_DATE.sub("", model))

    def cost(
        self, model: str | None, usage: TokenUsage, *, cache_hit: bool = False, batch: bool = False
    ) -> Cost:
        """What one call cost; a cache hit is free, an unknown model is flagged, and a
        `batch` call (Message Batches API) is charged at the model's batch multiplier."""
        if cache_hit:
            return FREE
        price = self.find(model)
        if price is None:
            return UNPRICED
        input_tokens = _count(usage, "input_tokens")
        output_tokens = _count(usage, "output_tokens")
        written = _count(usage, "cache_creation_input_tokens")
        read = _count(usage, "cache_read_input_tokens")
        rates = price.rates_for(input_tokens + written + read)
        total = (
            input_tokens * rates.input
            + output_tokens * rates.output
            + written * rates.cache_write
            + read * rates.cache_read
        ) / _MILLION
        if batch:
            total *= price.batch_multiplier
        return Cost(usd=float(total), priced=True)


def _count(usage: TokenUsage, name: str) -> int:
    return int(getattr(usage, name, 0) or 0)


# -- reading and checking price files ----------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_price_file(path: str | os.PathLike[str]) -> dict[str, ModelPrice]:
    """The models in one price file, or a `PriceFileError` saying what is wrong where."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceFileError(f"price file {where}: cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except ValueError as exc:
        raise PriceFileError(f"price file {where}: not valid JSON ({exc})") from exc
    return parse_prices(data, origin=where)


def parse_prices(data: Any, *, origin: str = "price table") -> dict[str, ModelPrice]:
    """Check a decoded price file and turn it into `ModelPrice`s."""
    if not isinstance(data, dict):
        raise PriceFileError(f"{origin}: expected a JSON object with a 'models' object")
    unknown = set(data) - _TOP_FIELDS
    if unknown:
        raise PriceFileError(f"{origin}: unknown top-level field {sorted(unknown)[0]!r}")
    models = data.get("models")
    if not isinstance(models, dict):
        raise PriceFileError(f"{origin}: 'models' must be an object of model id -> prices")
    return {model: _parse_model(origin, model, entry) for model, entry in models.items()}


def _parse_model(origin: str, model: str, entry: Any) -> ModelPrice:
    where = f"{origin}: model {model!r}"
    if not model.strip():
        raise PriceFileError(f"{origin}: a model id is empty")
    if not isinstance(entry, dict):
        raise PriceFileError(f"{where}: expected an object with {', '.join(RATE_FIELDS)}")
    _refuse_unknown(where, entry, _MODEL_FIELDS)
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise PriceFileError(f"{where}: field 'aliases' must be a list of model ids")
    source = entry.get("source", "")
    if not isinstance(source, str):
        raise PriceFileError(f"{where}: field 'source' must be text")
    long_prompt = above = None
    if "long_prompt" in entry:
        tier = entry["long_prompt"]
        if not isinstance(tier, dict):
            raise PriceFileError(f"{where}: field 'long_prompt' must be an object")
        _refuse_unknown(f"{where}, long_prompt", tier, _LONG_FIELDS)
        above = tier.get("above_tokens")
        if isinstance(above, bool) or not isinstance(above, int) or above <= 0:
            raise PriceFileError(
                f"{where}: field 'long_prompt.above_tokens' must be a positive whole number, "
                f"got {above!r}"
            )
        long_prompt = _rates(f"{where}", tier, prefix="long_prompt.")
    multiplier = entry.get("batch_multiplier", BATCH_MULTIPLIER)
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, Decimal)) or not 0 <= multiplier <= 1:
        raise PriceFileError(
            f"{where}: field 'batch_multiplier' must be a number from 0 to 1 "
            f"(the share of the list price a batch call pays), got {multiplier!r}"
        )
    return ModelPrice(
        model=model,
        rates=_rates(where, entry),
        long_prompt=long_prompt,
        long_prompt_above=above,
        aliases=tuple(aliases),
        source=source,
        batch_multiplier=Decimal(multiplier),
    )


def _refuse_unknown(where: str, entry: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise PriceFileError(
            f"{where}: unknown field {sorted(unknown)[0]!r} "
            f"(expected {', '.join(sorted(allowed))})"
        )


def _rates(where: str, entry: dict[str, Any], *, prefix: str = "") -> Rates:
    values = {}
    for name in RATE_FIELDS:
        if name not in entry:
            raise PriceFileError(f"{where}: field '{prefix}{name}' is missing")
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value < 0:
            raise PriceFileError(
                f"{where}: field '{prefix}{name}' must be a number of USD per million "
                f"tokens, 0 or more, got {value!r}"
            )
        values[name] = Decimal(value)
    return Rates(**values)


def load_prices(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env"
) -> PriceTable:
    """The shipped prices, overlaid model by model by the file in CHATBOT_PRICES_FILE."""
    prices = read_price_file(SHIPPED_PRICES)
    origin = [str(SHIPPED_PRICES)]
    override = (read_env(environ, dotenv_path).get(PRICES_ENV) or "").strip()
    if override:
        prices.update(read_price_file(Path(override).expanduser()))
        origin.append(override)
    return PriceTable(prices, origin=tuple(origin))


# -- the process's table -------------------------------------------------------------------

_lock = threading.Lock()
_loaded: tuple[tuple[str, int], PriceTable] | None = None


def _version(path: str) -> tuple[str, int]:
    try:
        return path, os.stat(path).st_mtime_ns
    except OSError:
        return path, -1


def default_prices() -> PriceTable:
    """The process's price table, re-read when the admin's price file changes.

    Raises `PriceFileError` while a file is broken (the usage page shows it).
    """
    global _loaded
    override = (read_env(None, ".env").get(PRICES_ENV) or "").strip()
    version = _version(os.path.expanduser(override)) if override else ("", 0)
    with _lock:
        if _loaded is None or _loaded[0] != version:
            _loaded = (version, load_prices())
        return _loaded[1]


def cost(model: str | None, usage: TokenUsage, *, cache_hit: bool = False, batch: bool = False) -> Cost:
    """`default_prices().cost(...)`."""
    return default_prices().cost(model, usage, cache_hit=cache_hit, batch=batch)


def cost_usd(
    model: str | None, usage: TokenUsage, *, cache_hit: bool = False, batch: bool = False
) -> float | None:
    """The cost to record with an API call; None (unpriced) rather than an exception,
    because a broken price file must never lose the reply being saved."""
    try:
        return cost(model, usage, cache_hit=cache_hit, batch=batch).usd
    except PriceFileError as error:
        log.error("API call left unpriced: %s", error.message)
        return None
