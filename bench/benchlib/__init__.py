"""The benchmark's parts, one job each; `bench/run.py` runs them in order (see bench/README.md)."""
