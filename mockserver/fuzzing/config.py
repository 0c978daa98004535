"""The per-run schemathesis.toml: the repository's file verbatim, plus the token, the cache and the ids."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path

from .common import DICTIONARY_PROBABILITY, PARTNER_ID_OPERATIONS, TOKEN_ENV
from .dataset import DataSet


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable text is a valid TOML basic string


def _toml_list(values: Sequence[str]) -> str:
    return "[\n" + "".join(f"  {_toml_string(v)},\n" for v in values) + "]"


def _dictionary_binding(name: str) -> str:
    return f"{{ dictionary = {_toml_string(name)}, probability = {DICTIONARY_PROBABILITY} }}"


def render_config(
    base_text: str, data: DataSet, cache_dir: Path | None, *, business: str = "fixed", token: bool = False
) -> str:
    """The repository's configuration verbatim, then the run's cache directory and the ids to use.

    `token=True`: every request carries `Authorization: Bearer ${MOCKSERVER_FUZZ_TOKEN}`, which
    schemathesis reads from its environment, so the token is in no file and on no command line. TOML
    wants top-level keys before any table: this one line goes before the repository's text.

    `business="fixed"`: `listPartners` always gets the data set's first business (a config parameter
    override), so all its phases reach the filters. `"mixed"`: the businesses are a dictionary drawn
    with probability 0.5, so half the values stay generated (unknown -> 404, malformed -> 400), but the
    coverage phase, which does not use dictionaries, then only ever gets 404s on this operation.
    """
    base = tomllib.loads(base_text)  # fails early, with the file's own error, on a broken config
    parts: list[str] = []
    if token:
        header = _toml_string(f"Bearer ${{{TOKEN_ENV}}}")
        parts += [
            "# ---- added by `mockserver fuzz` for this run: the bearer token, from the environment ----",
            f"headers = {{ Authorization = {header} }}",
            "",
        ]
    parts += [base_text.rstrip("\n"), "", "", "# ---- added by `mockserver fuzz` for this run: the ids ----"]
    if cache_dir is not None and "cache" not in base:
        parts += ["", "[cache]", f"directory = {_toml_string(str(cache_dir))}"]
    bindings: list[tuple[Sequence[str], str, str]] = []
    if data.business_ids and business == "fixed":
        bindings.append((["listPartners"], "query.business_uuid", _toml_string(data.business_ids[0])))
    elif data.business_ids:
        parts += ["", "[dictionaries.fuzz-business-ids]", f"values = {_toml_list(data.business_ids)}"]
        bindings.append((["listPartners"], "query.business_uuid", _dictionary_binding("fuzz-business-ids")))
    if data.partner_ids:
        parts += ["", "[dictionaries.fuzz-partner-ids]", f"values = {_toml_list(data.partner_ids)}"]
        bindings.append((PARTNER_ID_OPERATIONS, "path.id", _dictionary_binding("fuzz-partner-ids")))
    for operation_ids, key, value in bindings:
        ids = ", ".join(_toml_string(o) for o in operation_ids)
        parts += [
            "",
            "[[operations]]",
            f"include-operation-id = [{ids}]",
            f"parameters = {{ {_toml_string(key)} = {value} }}",
        ]
    text = "\n".join(parts) + "\n"
    tomllib.loads(text)
    return text
