"""The parts of `bash bench/run` (mockserver against Prism), one job each; `bench/run.py` runs them in
order. What it shares with the other bench commands is in benchlib/ (see bench/README.md)."""
