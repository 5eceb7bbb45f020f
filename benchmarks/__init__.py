"""Benchmarks, run with `python -m benchmarks` (or `./dev.sh bench`); results go to
`benchmarks/results/`. Not a test suite: nothing here asserts a timing."""
