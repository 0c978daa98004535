"""The base of every error that stops the mock from starting; the CLI prints it as one line."""

from __future__ import annotations


class MockServerError(Exception):
    """An input the server cannot use (spec, scenario, settings); `str()` is the whole message."""
