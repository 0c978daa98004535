"""Pick the data set the settings ask for: a scenario file, or Faker data."""

from __future__ import annotations

import weakref
from typing import Any

from mockserver.contract.spec import Spec
from mockserver.core.api_errors import INVALID_BODY, INVALID_SCENARIO, ApiError, ErrorItem
from mockserver.core.settings import Settings
from mockserver.dataset.faker_data import generate_dataset
from mockserver.dataset.model import DataSet
from mockserver.dataset.scenario import ScenarioError, ScenarioProblems, load_scenario, load_scenario_text

MAX_SCENARIO_PARTNERS = 10_000
"""Partners a scenario sent over the network (inline or Faker) may hold."""

_FAKER_DATA: weakref.WeakValueDictionary[tuple[int, int], DataSet] = weakref.WeakValueDictionary()
"""Faker data sets by (seed, partners), kept while a session serves them."""


def faker_dataset(seed: int, partners: int) -> DataSet:
    """Faker data of this seed and size, generated once while any session serves it (10,000 partners
    take about 2 s of CPU): every switch and session asking for the same shares one data set."""
    dataset = _FAKER_DATA.get((seed, partners))
    if dataset is None:
        dataset = generate_dataset(seed, partners)
        _FAKER_DATA[seed, partners] = dataset
    return dataset


def load_dataset(settings: Settings, spec: Spec | None = None) -> DataSet:
    """The data set the settings name; a scenario's rules are checked against `spec` when given."""
    if settings.scenario is not None:
        return load_scenario(settings.scenario, settings.scenarios_dir, spec=spec)
    return faker_dataset(settings.seed, settings.partners)


def describe_dataset(settings: Settings) -> str:
    """The data set the settings ask for, in words."""
    if settings.scenario is not None:
        return f"scenario {settings.scenario}"
    return faker_source(settings.seed, settings.partners)


def faker_source(seed: int, partners: int) -> str:
    return f"Faker data (seed {seed}, {partners} partners)"


def requested_dataset(body: Any, settings: Settings, spec: Spec) -> tuple[DataSet, int, str]:
    """The data set a PUT /__admin/scenario asks for, loaded and checked; ApiError when it cannot be.

    The admin contract already holds the body to exactly one of name, seed (and partners) or inline.
    """
    if isinstance(body, str):
        return _inline(body, "", spec), settings.seed, "inline scenario"
    if "name" in body:
        name = body["name"]
        try:
            dataset = load_scenario(name, settings.scenarios_dir, allow_paths=False, spec=spec)
        except ScenarioError as exc:
            raise _scenario_error(exc, "/name") from None
        return dataset, settings.seed, f"scenario {name}"
    if "inline" in body:
        return _inline(body["inline"], "/inline", spec), settings.seed, "inline scenario"
    seed, partners = body["seed"], body.get("partners", settings.partners)
    if partners > MAX_SCENARIO_PARTNERS:  # the server's own --partners may be larger
        detail = f"partners must be at most {MAX_SCENARIO_PARTNERS}, got {partners}"
        raise ApiError.of(INVALID_BODY, detail, ("pointer", "/partners"))
    return faker_dataset(seed, partners), seed, faker_source(seed, partners)


def _inline(text: str, pointer: str, spec: Spec) -> DataSet:
    try:
        return load_scenario_text(text, "<inline>", max_partners=MAX_SCENARIO_PARTNERS, spec=spec)
    except ScenarioError as exc:
        raise _scenario_error(exc, pointer) from None


def _scenario_error(error: ScenarioError, pointer: str) -> ApiError:
    """One error object per problem of the scenario, each `file:line: field: problem`."""
    lines = error.lines() if isinstance(error, ScenarioProblems) else [str(error)]
    return ApiError(*(ErrorItem(INVALID_SCENARIO, line, ("pointer", pointer)) for line in lines))
