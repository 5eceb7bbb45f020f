"""Run every benchmark and print its table: `python -m benchmarks [--quick] [--profile]`.

`--ratelimit [--scale K]` runs the rate-limit benchmark instead (about 3 minutes unscaled);
`--search [--quick]` the QA search benchmark on 100,000 generated messages."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import batch, cache, first_token, ratelimit, stream_overhead

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="2,000 deltas and 2 rounds: a check that it runs, not figures")
    parser.add_argument("--deltas", type=int, help="text deltas in the stream (default 20,000)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of our client reading the stream once")
    parser.add_argument("--ratelimit", action="store_true",
                        help="run only the rate-limit benchmark: 60 requests at 20 RPM (~3 min)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="with --ratelimit: run K times faster (limit x K, window / K)")
    parser.add_argument("--search", action="store_true",
                        help="run only the QA search benchmark: 100,000 messages (~20 s)")
    args = parser.parse_args(argv)
    if args.search:
        return _search(args.quick)
    if args.ratelimit:
        return _ratelimit(args.scale)

    deltas = args.deltas or (2_000 if args.quick else 20_000)
    rounds = args.rounds or (2 if args.quick else 5)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    log(f"stream_overhead: {deltas:,} deltas, {rounds} rounds")
    result = stream_overhead.run(deltas, rounds, progress=log)
    print(stream_overhead.format_table(result))

    # Only a full run is worth committing; a quick or custom one must not overwrite it.
    if not (args.quick or args.deltas or args.rounds):
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "stream_overhead.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {path}")

    full = not (args.quick or args.deltas or args.rounds)
    log("batch: 200 requests x 100 ms at concurrency 20")
    batch_result = batch.run(n=40 if args.quick else 200, rounds=1 if args.quick else 3)
    print("\n" + batch.format_table(batch_result))
    print()
    cache_result = cache.run(n=1_000 if args.quick else 10_000)
    log("first_token: the time the app adds before the first token")
    first_token_result = first_token.run(turns=20 if args.quick else 300)
    print("\n" + first_token.format_table(first_token_result))
    if full:
        results = (("batch", batch_result), ("cache", cache_result),
                   ("first_token", first_token_result))
        for name, data in results:
            (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")

    if args.profile:
        print("\n" + stream_overhead.profile_ours(deltas))
    return 0


def _search(quick: bool) -> int:
    from . import search

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    result = search.run(5_000 if quick else 100_000, rounds=2 if quick else 7, progress=log)
    print(search.format_table(result))
    if not quick:  # only the full history is the README's figure
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "search.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {path}")
    return 0


def _ratelimit(scale: float) -> int:
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"ratelimit: {ratelimit.REQUESTS} requests at {ratelimit.RPM * scale:g} RPM, scale {scale:g}")
    result = ratelimit.run(scale, progress=log)
    print(ratelimit.format_table(result))
    if scale == 1.0:  # a scaled run is a check, not the figure
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "ratelimit.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
