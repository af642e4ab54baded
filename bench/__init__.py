"""Herald's benchmarks: each measures one part against a baseline taken in the same run, and
writes its figures as JSON; ``python -m bench`` runs them all and writes BENCHMARKS.md."""
