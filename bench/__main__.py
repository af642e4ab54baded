"""``python -m bench``: run every benchmark and write BENCHMARKS.md with its plots."""

from bench.runner import main

main()
