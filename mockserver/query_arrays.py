"""Arrays sent with indices (`filter[categories][0]=pos`, as `qs.stringify` writes them by default),
read as the spec's exploded form `filter[categories][]=pos` once, before validation.

Only keys whose `name[]` is an array parameter of the operation are read this way; any other key is
left for validation to judge (an unknown filter stays a 400 naming the key as sent). The values of
`name[]` itself come first, then the indexed ones in the order of their indices, as `qs.parse`
rebuilds an array (for equal indices, `a[0]` before `a[00]` when sent first, each key's values as
sent). The query as sent stays in the environ (`sent_args`) for paging links; the journal reads the
raw query string.
"""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from .errors import INVALID_PARAMETER, ErrorItem
from .messages import show
from .spec import Operation

MAX_INDEX_DIGITS = 4
"""Indices are 0 to 9999: far more than a filter has values, and never a long number to parse."""
MAX_INDEX = 10**MAX_INDEX_DIGITS - 1
SENT_ARGS_KEY = "mockserver.sent_args"
"""Environ key of the query parameters as sent, when indexed arrays were rewritten."""


def indexed_as_exploded(
    args: MultiDict[str, str], arrays: frozenset[str]
) -> tuple[MultiDict[str, str] | None, list[ErrorItem]]:
    """`args` with each `name[N]` of an array parameter `name[]` read as `name[]`, or None when no key
    is; and an error for each key of such a parameter whose index is not 1 to 4 ASCII digits (that
    key is left out, so it is reported once)."""
    indexed: dict[str, list[tuple[int, str]]] = {}
    renamed: dict[str, str | None] = {}
    problems = []
    for key in args:
        if key[-1:] != "]" or key in arrays:
            continue  # no index, or the `name[]` form itself
        stem, bracket, digits = key[:-1].rpartition("[")
        name = stem + "[]"
        if not bracket or name not in arrays:
            continue
        if len(digits) > MAX_INDEX_DIGITS or not (digits.isascii() and digits.isdigit()):
            problems.append(
                ErrorItem(
                    INVALID_PARAMETER,
                    f"{key}: an array index must be 0 to {MAX_INDEX} in decimal digits "
                    f"(as in {stem}[0]), got {show(digits)}",
                    ("parameter", key),
                )
            )
            renamed[key] = None
            continue
        renamed[key] = name
        indexed.setdefault(name, []).extend((int(digits), value) for value in args.getlist(key))
    if not renamed:
        return None, []
    pairs: list[tuple[str, str]] = []
    written: set[str] = set()
    for key, values in args.lists():
        target = renamed.get(key, key)
        if target is None or target in written:
            continue  # a bad index (reported), or an array already written out at its first key
        if target in indexed:
            written.add(target)
            by_index = sorted(indexed[target], key=lambda pair: pair[0])  # stable: equal indices as sent
            values = [*args.getlist(target), *(value for _, value in by_index)]
        pairs.extend((target, value) for value in values)
    return ImmutableMultiDict(pairs), problems


def read_indexed_arrays(operation: Operation) -> list[ErrorItem]:
    """Rewrite the current request's `args` as `indexed_as_exploded` does; the problems it found.

    Free for an operation without array parameters; one substring test on a query without `][` in
    its keys (every array parameter of the spec has a nested name, `filter[x][]`).
    """
    if not operation.array_parameters:
        return []
    args = request.args
    if "][" not in "".join(args):
        return []
    rewritten, problems = indexed_as_exploded(args, operation.array_parameters)
    if rewritten is not None:
        request.environ[SENT_ARGS_KEY] = args
        request.args = rewritten
    return problems


def sent_args() -> MultiDict[str, str]:
    """The current request's query parameters as the client sent them."""
    sent: MultiDict[str, str] = request.environ.get(SENT_ARGS_KEY, request.args)
    return sent
