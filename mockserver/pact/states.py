"""The provider states this mock's Pact files use: their names and parameters, read back from a Pact,
and the parameters checked against the spec.

A state is data the provider must hold before an interaction: the data set, a partner or a business
that exists, the user the request acts as (never a token: the replay looks the token up), and whether
that user is linked to a partner.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DATA_SET = "the data set is loaded"
"""params: {name} (a scenario) or {seed, partners} (Faker data); {source} says it in words."""
USER = "a user sends the request"
"""params: {id}; the replay sends that user's token as `Authorization: Bearer <token>`."""
PARTNER = "a partner exists"
"""params: {id}."""
NO_PARTNER = "no partner has the id"
"""params: {id}."""
BUSINESS = "a business exists"
"""params: {id}."""
LINKED = "the user is linked to the partner"
"""params: {user, partner}."""
NOT_LINKED = "the user is not linked to the partner"
"""params: {user, partner}."""

ID_PARAMS = {USER: ("id",), PARTNER: ("id",), NO_PARTNER: ("id",), BUSINESS: ("id",),
             LINKED: ("user", "partner"), NOT_LINKED: ("user", "partner")}  # fmt: skip
"""The parameters each state needs, all ids."""
KNOWN = (DATA_SET, *ID_PARAMS)
TOKEN_PLACEHOLDER = "${token}"
"""What a Pact's `Authorization` header holds: the replay's state handler returns the user's token,
which Pact's verifier puts in place of this expression."""

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class StateProblem:
    number: int
    """The state's index in the interaction's states."""
    param: str | None
    message: str


def state_problems(states: Any) -> Iterator[StateProblem]:
    """What is wrong with this mock's states among `states` (others are the provider's business)."""
    for number, state in enumerate(states):
        if state.name == DATA_SET:
            yield from _data_set_problems(number, state.params)
            continue
        for key in ID_PARAMS.get(state.name, ()):
            value = state.params.get(key)
            if not isinstance(value, str) or not _UUID.fullmatch(value):
                shown = "missing" if value is None else repr(value)[:80]
                yield StateProblem(number, key, f"state {state.name!r}: {key} must be a UUID, got {shown}")


def _data_set_problems(number: int, params: dict[str, Any]) -> Iterator[StateProblem]:
    if isinstance(params.get("name"), str):
        return
    if isinstance(params.get("seed"), int) and isinstance(params.get("partners", 0), int):
        return
    if isinstance(params.get("inline"), str) or isinstance(params.get("source"), str):
        return
    yield StateProblem(number, None, f"state {DATA_SET!r} needs name, seed (and partners), inline or source")


def data_set_params(source: str) -> dict[str, Any]:
    """The data-set state's parameters for a session's source ("scenario default", "Faker data (seed 1,
    100 partners)"): what `PUT /__admin/scenario` takes to load it again, and the source in words."""
    params: dict[str, Any] = {"source": source}
    if source.startswith("scenario "):
        params["name"] = source.removeprefix("scenario ")
    elif match := _FAKER.fullmatch(source):
        params["seed"], params["partners"] = int(match.group(1)), int(match.group(2))
    return params


_FAKER = re.compile(r"Faker data \(seed (-?[0-9]+), ([0-9]+) partners\)")
