"""The scale-out benchmark's parts, one job each; `bench/scale.py` runs them in order (bench/README.md)."""
