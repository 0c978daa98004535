"""Arrays sent with indices (`filter[categories][0]=pos`, as `qs.stringify` writes them by default),
read as the spec's exploded form `filter[categories][]=pos` once, before validation; a comma-form list
given several times (`filter[categories]=pos&filter[categories]=payroll`, qs's `arrayFormat: 'repeat'`)
read as one comma list. And a whole query read as the server reads it (`ServerQueryReading`), for the
journal's patterns: each list under one name, whatever forms it was sent in.

Only keys whose `name[]` is an array parameter of the operation are read this way; any other key is
left for validation to judge (an unknown filter stays a 400 naming the key as sent). The values of
`name[]` itself come first, then the indexed ones in the order of their indices, as `qs.parse`
rebuilds an array (for equal indices, `a[0]` before `a[00]` when sent first, each key's values as
sent). The query as sent stays in the environ (`sent_args`) for paging links; the journal reads the
raw query string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from mockserver.contract.spec import Operation, Spec
from mockserver.contract.wording import show
from mockserver.core.api_errors import INVALID_PARAMETER, ErrorItem
from mockserver.core.channels import SENT_ARGS_KEY
from mockserver.core.context import current_request
from mockserver.journal.patterns import AS_SENT, QueryReading

MAX_INDEX_DIGITS = 4
"""Indices are 0 to 9999: far more than a filter has values, and never a long number to parse."""
MAX_INDEX = 10**MAX_INDEX_DIGITS - 1


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
    request = current_request()
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
    request = current_request()
    sent: MultiDict[str, str] = request.environ.get(SENT_ARGS_KEY, request.args)
    return sent


# --- lists: every form the server reads ------------------------------------------------------------


@dataclass(frozen=True)
class ListParameters:
    """An operation's query parameters that take several values."""

    exploded: frozenset[str]
    """`filter[x][]` (repeated; `filter[x][0]` is read as it)."""
    comma: frozenset[str]
    """`filter[x]`, `include`: comma-separated (and, repeated, read as one comma list)."""

    def name_of(self, key: str) -> str | None:
        """The list a key belongs to (`filter[x]` for `filter[x][]`, `filter[x][3]` and `filter[x]`),
        or None when it is no list's."""
        if key in self.comma:
            return key
        stem, bracket, index = key[:-1].rpartition("[")
        is_index = index == "" or (index.isascii() and index.isdigit())
        return stem if key.endswith("]") and bracket and is_index and stem + "[]" in self.exploded else None

    def names(self) -> list[str]:
        """The lists, by name (`filter[x]`, `include`), sorted."""
        return sorted({name[:-2] for name in self.exploded} | self.comma)


def _list_parameters(spec: Spec) -> dict[tuple[str, str], ListParameters]:
    found = {}
    for entry in spec.paths:
        item = spec.resolved["paths"][entry.template]
        for method, operation in entry.operations.items():
            parameters = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
            comma = {
                p["name"]
                for p in parameters
                if p.get("in") == "query"
                and p.get("schema", {}).get("type") == "array"
                and not p.get("explode", p.get("style", "form") == "form")
            }
            found[(entry.template, method)] = ListParameters(operation.array_parameters, frozenset(comma))
    return found


def list_parameters(spec: Spec, operation: Operation) -> ListParameters:
    """The operation's list parameters (worked out once per spec)."""
    return spec.derived("list_parameters", _list_parameters)[(operation.path_template, operation.method)]


def join_repeated_lists(names: Iterable[str]) -> None:
    """Read each comma-form list given several times (`filter[x]=a&filter[x]=b,c`) as one
    (`filter[x]=a,b,c`), in the current request's `args`; the query as sent stays in `sent_args`."""
    request = current_request()
    joined = set(names)
    args = request.args
    pairs = [
        (key, ",".join(values)) if key in joined else (key, value)
        for key, values in args.lists()
        for value in (values[:1] if key in joined else values)
    ]
    request.environ.setdefault(SENT_ARGS_KEY, args)
    request.args = ImmutableMultiDict(pairs)


def read_lists(pairs: list[tuple[str, str]], lists: ListParameters) -> dict[str, list[str]]:
    """Query pairs as the server reads them: each list under its name (`filter[x]`), its values in the
    server's order (`[]` ones, then indexed ones by index, then comma ones); anything else as sent."""
    args: MultiDict[str, str] = MultiDict(pairs)
    rewritten, _ = indexed_as_exploded(args, lists.exploded)
    args = rewritten if rewritten is not None else args
    read: dict[str, list[str]] = {}
    comma: dict[str, list[str]] = {}
    for key, values in args.lists():
        if key in lists.exploded:
            read.setdefault(key[:-2], []).extend(values)
        elif key in lists.comma:
            comma.setdefault(key, []).extend(part for value in values for part in value.split(","))
        else:
            read[key] = values
    for name, values in comma.items():
        read.setdefault(name, []).extend(values)
    return read


class ServerQueryReading(QueryReading):
    """A query as the server reads it, for one operation: `filter[status]`, `filter[status][]`,
    `filter[status][0]` and a comma list all name the list `filter[status]`."""

    def __init__(self, lists: ListParameters) -> None:
        self.lists = lists

    def name(self, key: str) -> str:
        return self.lists.name_of(key) or key

    def wanted(self, key: str, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str) and key in self.lists.comma and "," in value:
            return value.split(",")  # as the server reads `filter[x]=a,b`
        return value

    def read(self, query: str) -> dict[str, list[str]]:
        return read_lists(parse_qsl(query, keep_blank_values=True), self.lists)

    def shown(self, query: str, name: str) -> Any:
        """A list as it was sent (`filter[status][]=available`), so a near miss shows the form too."""
        if name not in self.lists.names():
            return super().shown(query, name)
        sent = parse_qsl(query, keep_blank_values=True)
        return "&".join(f"{k}={v}" for k, v in sent if self.lists.name_of(k) == name) or None


def server_query_reading(spec: Spec) -> Callable[[str | None], QueryReading]:
    """How the server reads the query of a request to an operation (by id; as sent for none)."""
    lists = _list_parameters(spec)  # not through spec.derived: this is built by it, under its lock
    readings = {
        operation.operation_id: ServerQueryReading(lists[(entry.template, method)])
        for entry in spec.paths
        for method, operation in entry.operations.items()
    }
    return lambda operation_id: readings.get(operation_id or "", AS_SENT)
