"""A mock and contract-testing server for the Partners API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockserver.core.settings import Settings

if TYPE_CHECKING:
    from mockserver.app import create_app

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    """Import the app (Flask, openapi-core) only when asked: the CLI's parent process never needs it."""
    if name == "create_app":
        from mockserver.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
