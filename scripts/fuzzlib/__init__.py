"""The fuzzing campaign's parts, one job each; `scripts/fuzz.py` is the command line over them."""
