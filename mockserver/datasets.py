"""Pick the data set the settings ask for: a scenario file, or Faker data."""

from __future__ import annotations

from .fakedata import generate_dataset
from .model import DataSet
from .scenarios import load_scenario
from .settings import Settings
from .spec import Spec


def load_dataset(settings: Settings, spec: Spec | None = None) -> DataSet:
    """The data set the settings name; a scenario's rules are checked against `spec` when given."""
    if settings.scenario is not None:
        return load_scenario(settings.scenario, settings.scenarios_dir, spec=spec)
    return generate_dataset(settings.seed, settings.partners)


def describe_dataset(settings: Settings) -> str:
    """The data set the settings ask for, in words."""
    if settings.scenario is not None:
        return f"scenario {settings.scenario}"
    return faker_source(settings.seed, settings.partners)


def faker_source(seed: int, partners: int) -> str:
    return f"Faker data (seed {seed}, {partners} partners)"
