"""The varied load's URLs: distinct list requests built from the spec's own parameters.

The two list operations (`listAvailablePartners`, `listPartners`) are read from the spec mockserver
serves (`GET /openapi.json`, the run's snapshot); each query parameter gets its values from its schema
(integer bounds, enums, booleans) or, where the schema only has a pattern, from the data set
(`GET /__admin/data`: business ids and users' tokens; a page of partners: names for `search`, country
codes). A seeded `random.Random` draws the combinations until there are `count` distinct URLs.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchlib.common import BenchError
from benchlib.servers import BenchServer

LIST_OPERATIONS = ("listAvailablePartners", "listPartners")
PER_PAGE_CANDIDATES = (1, 5, 10, 20, 25, 50, 100)
MAX_SEARCHES = 40
MAX_COUNTRIES = 8
PROBABILITY = {"page": 0.7, "per_page": 0.8, "include": 0.4, "search": 0.2}
"""How often an optional parameter is sent; other optional parameters (the filters): FILTER_PROBABILITY."""
FILTER_PROBABILITY = 0.1


@dataclass
class DataSet:
    """What the URLs are built from, read from a running mockserver."""

    spec: dict[str, Any]
    businesses: list[str]
    tokens: list[str]
    partner_names: list[str]
    country_codes: list[str]
    default_token: str | None


@dataclass
class Param:
    name: str
    required: bool
    explode: bool
    values: list[list[str]]
    """Each value is the list of strings it is sent as (one for a scalar)."""
    default: str | None = None


@dataclass
class Operation:
    operation_id: str
    path: str
    params: list[Param]
    total: int = 0
    """Partners it lists without a filter: pages past `total / per_page` are left out."""

    def first_url(self) -> str:
        """The operation with its required parameters only (their first values) and per_page=1."""
        pairs = [(p.name, ",".join(p.values[0])) for p in self.params if p.required]
        return f"{self.path}?{urlencode([*pairs, ('per_page', '1')])}"


@dataclass
class UrlSet:
    """The varied load: (token, path) lines, and what went into them."""

    lines: list[tuple[str | None, str]]
    operations: list[Operation]
    per_operation: Counter[str] = field(default_factory=Counter)
    per_param: Counter[str] = field(default_factory=Counter)
    skipped_params: list[str] = field(default_factory=list)

    def write(self, path: Path) -> None:
        """One request a line: `token<TAB>path` (an empty token: no Authorization header)."""
        path.write_text("".join(f"{token or ''}\t{target}\n" for token, target in self.lines))


def get_json(server: BenchServer, path: str) -> Any:
    status, body = server.request("GET", path, timeout=30.0)
    if status != 200:
        raise BenchError(f"{server.label} answered {status} to GET {path}: {body[:300]!r}")
    return json.loads(body)


def read_data_set(mock: BenchServer) -> DataSet:
    """The spec, the ids and tokens, and the partners' names and countries, from mockserver."""
    spec = get_json(mock, "/openapi.json")
    data = get_json(mock, "/__admin/data")
    businesses = [b["id"] for b in data.get("businesses") or []]
    users = data.get("users") or []
    tokens = [u["token"] for u in users if u.get("token")]
    default = next((u["token"] for u in users if u.get("default") and u.get("token")), None)
    if not businesses or not tokens:
        raise BenchError("GET /__admin/data lists no business or no user with a token")
    names: set[str] = set()
    countries: set[str] = set()
    page = 1
    while True:
        doc = get_json(mock, f"/api/v1/partners?business_uuid={businesses[0]}&per_page=100&page={page}")
        for partner in doc["data"]:
            names.add(partner["attributes"]["name"])
            if partner["attributes"].get("country-code"):
                countries.add(partner["attributes"]["country-code"])
        if page >= doc["meta"]["total-pages"]:
            break
        page += 1
    return DataSet(spec, businesses, tokens, sorted(names), sorted(countries), default or tokens[0])


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """`node` with its `$ref` (local, `#/...`) followed, repeatedly."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise BenchError(f"cannot follow {ref!r} in the spec")
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def find_operation(spec: dict[str, Any], operation_id: str) -> tuple[str, dict[str, Any], list[Any]]:
    """The path, the GET operation and the path item's own parameters of `operation_id`."""
    for path, item in spec.get("paths", {}).items():
        get = item.get("get")
        if get and get.get("operationId") == operation_id:
            return path, get, item.get("parameters", [])
    raise BenchError(f"the spec has no GET operation {operation_id!r}")


def search_terms(names: list[str], rng: random.Random) -> list[str]:
    """Substrings of partner names, as someone typing in a search box: the start of a word, a word."""
    terms = set()
    for name in names:
        for word in name.replace(",", " ").split():
            word = word.lower()
            if len(word) >= 3 and word.isalpha():
                terms.update({word[:3], word[:4], word})
    picked = sorted(terms)
    rng.shuffle(picked)
    return sorted(picked[:MAX_SEARCHES])


def array_values(items: dict[str, Any], data: DataSet) -> list[str] | None:
    if "enum" in items:
        return [str(v) for v in items["enum"]]
    if items.get("pattern") == "^[A-Z]{2}$":
        return data.country_codes[:MAX_COUNTRIES]
    return None


def param_values(
    name: str, schema: dict[str, Any], data: DataSet, rng: random.Random, pages: int
) -> list[list[str]] | None:
    """The values one parameter takes in the URLs, from its schema (None: not one this knows)."""
    kind = schema.get("type")
    if name == "page":
        top = min(pages, int(schema.get("maximum", pages)))
        return [[str(n)] for n in range(int(schema.get("minimum", 1)), top + 1)]
    if name == "per_page":
        low, high = int(schema.get("minimum", 1)), int(schema.get("maximum", 100))
        return [[str(n)] for n in PER_PAGE_CANDIDATES if low <= n <= high]
    if name == "search":
        low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 256))
        return [[t] for t in search_terms(data.partner_names, rng) if low <= len(t) <= high]
    if kind == "string" and schema.get("format") == "uuid" and name.startswith("business"):
        return [[b] for b in data.businesses]
    if kind == "boolean":
        return [["true"], ["false"]]
    if kind == "array":
        items = array_values(resolve(data.spec, schema.get("items", {})), data)
        if not items:
            return None
        low = int(schema.get("minItems", 1))
        sizes = [n for n in (1, 2) if n >= low and n <= len(items)]
        return [list(combo) for n in sizes for combo in combinations(items, n)]
    return None


def build_operation(
    data: DataSet, operation_id: str, rng: random.Random, pages: int, skipped: list[str]
) -> Operation:
    spec = data.spec
    path, get, shared = find_operation(spec, operation_id)
    params = []
    for raw in [*shared, *get.get("parameters", [])]:
        p = resolve(spec, raw)
        if p.get("in") != "query":
            continue
        schema = resolve(spec, p.get("schema", {}))
        values = param_values(p["name"], schema, data, rng, pages)
        if not values:
            if p.get("required"):
                raise BenchError(f"no value for the required parameter {p['name']} of {operation_id}")
            skipped.append(f"{operation_id} {p['name']}")
            continue
        explode = bool(p.get("explode", p.get("style", "form") == "form"))
        default = str(schema["default"]) if "default" in schema else None
        params.append(Param(p["name"], bool(p.get("required")), explode, values, default))
    return Operation(operation_id, path, params)


def draw_url(op: Operation, rng: random.Random) -> tuple[str, list[str]]:
    """One URL of `op`: the required parameters, and each optional one with its probability. A page
    is one that has partners when nothing is filtered (the first pages more often, as people browse)."""
    chosen: dict[str, list[str]] = {}
    for p in op.params:
        if p.required or rng.random() < PROBABILITY.get(p.name, FILTER_PROBABILITY):
            chosen[p.name] = rng.choice(p.values)
    by_name = {p.name: p for p in op.params}
    if "page" in chosen:
        per_page_param = by_name.get("per_page")
        default = per_page_param.default if per_page_param and per_page_param.default else "25"
        per_page = int(chosen.get("per_page", [default])[0])
        last = max(1, math.ceil(op.total / per_page))
        pages = [v for v in by_name["page"].values if int(v[0]) <= last] or by_name["page"].values[:1]
        chosen["page"] = rng.choices(pages, weights=[1 / int(v[0]) for v in pages])[0]
    pairs: list[tuple[str, str]] = []
    for p in op.params:
        if p.name not in chosen:
            continue
        if p.explode:
            pairs.extend((p.name, v) for v in chosen[p.name])
        else:
            pairs.append((p.name, ",".join(chosen[p.name])))
    return (f"{op.path}?{urlencode(pairs)}" if pairs else op.path), list(chosen)


def build_urls(data: DataSet, count: int, seed: int, pages: int, total_of: Callable[[str], int]) -> UrlSet:
    """`count` distinct URLs over both list operations, taking turns; each with a user's token (or none:
    the data set's default user). `total_of(url)` is the `total-count` mockserver answers to a URL."""
    rng = random.Random(seed)
    skipped: list[str] = []
    operations = [build_operation(data, op_id, rng, pages, skipped) for op_id in LIST_OPERATIONS]
    for op in operations:
        op.total = total_of(op.first_url())
    urls = UrlSet([], operations, skipped_params=skipped)
    seen: set[str] = set()
    tokens: list[str | None] = [*data.tokens, None]
    attempts = 0
    while len(urls.lines) < count:
        attempts += 1
        if attempts > count * 50:
            raise BenchError(f"only {len(urls.lines)} distinct URLs after {attempts} draws (wanted {count})")
        op = operations[len(urls.lines) % len(operations)]
        target, used = draw_url(op, rng)
        if target in seen:
            continue
        seen.add(target)
        urls.lines.append((rng.choice(tokens), target))
        urls.per_operation[op.operation_id] += 1
        urls.per_param.update(used)
    return urls
