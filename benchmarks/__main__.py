"""Run every benchmark and print its table: `python -m benchmarks [--quick] [--profile]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import stream_overhead

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="2,000 deltas and 2 rounds: a check that it runs, not figures")
    parser.add_argument("--deltas", type=int, help="text deltas in the stream (default 20,000)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of our client reading the stream once")
    args = parser.parse_args(argv)

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

    if args.profile:
        print("\n" + stream_overhead.profile_ours(deltas))
    return 0


if __name__ == "__main__":
    sys.exit(main())
