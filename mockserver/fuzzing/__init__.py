"""The fuzzing campaign behind `mockserver fuzz`, one job per module.

options (what to run), server (the started mock), remote (a server given by --url), dataset (the ids
to fuzz with), config (the run's schemathesis.toml), runner (`st run`), results (its reports read),
summary (the text printed), campaign (the steps in order). Nothing here imports schemathesis: `st run`
is a child process.
"""
