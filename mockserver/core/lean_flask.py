"""Flask, less its per-request overhead that this app does not use."""

from __future__ import annotations

from collections.abc import Callable
from inspect import CO_COROUTINE
from typing import Any

from flask import Flask


class LeanFlask(Flask):
    """Flask asks `ensure_sync` of every hook and view on every request, and answers through
    `inspect.iscoroutinefunction` (five calls each, some twenty times a request). A plain function or
    method is recognised here from its code's flags in one look-up; anything else goes to Flask."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        code = getattr(func, "__code__", None)
        if code is not None and not code.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)
