"""Strict JSON for request bodies: no NaN or Infinity, and no object with the same key twice.

Python's json keeps the last of duplicate keys without a word; RFC 8259 leaves the result undefined,
so a client sending them has a bug the mock should show rather than hide.
"""

from __future__ import annotations

import json
from typing import Any

from mockserver.contract.wording import json_pointer, show


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice; `pointer` is the key's place, `key` the key."""

    def __init__(self, pointer: str, key: str) -> None:
        super().__init__(f"{pointer} names the key {show(key)} more than once")
        self.pointer = pointer
        self.key = key


class _Duplicated(dict[str, Any]):
    """An object that had a duplicate key, found by a walk after parsing (the hook has no path)."""

    duplicate = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    marked = _Duplicated(pairs)
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _first_duplicate(value: Any, path: list[str | int]) -> DuplicateKeyError | None:
    if isinstance(value, _Duplicated):
        return DuplicateKeyError(json_pointer([*path, value.duplicate]), value.duplicate)
    if isinstance(value, dict):
        children: Any = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return None
    for key, child in children:
        found = _first_duplicate(child, [*path, key])
        if found is not None:
            return found
    return None


def loads_strict(text: str) -> Any:
    """Parse JSON text; ValueError when it is not strict JSON (DuplicateKeyError for a repeated key)."""
    duplicates: list[bool] = []

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = _object(pairs)
        if isinstance(result, _Duplicated):
            duplicates.append(True)
        return result

    value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=build)
    if duplicates:
        error = _first_duplicate(value, [])
        if error is not None:
            raise error
    return value
