"""The soak run's parts, one job each; `bench/soak.py` runs them in order (see bench/README.md)."""
