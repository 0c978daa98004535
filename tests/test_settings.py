"""mockserver.core.settings as a unit: `MOCKSERVER_*` variables read back into the same Settings, and a
variable that cannot be read is a SettingsError naming it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from mockserver.core.settings import ENV_PREFIX, SERVERS, VALIDATORS, Settings, SettingsError
from mockserver.core.startup_errors import MockServerError

FIELDS = {field.name: field for field in dataclasses.fields(Settings)}


def other_than_default(name: str) -> Any:
    """A value of the field's type that is not its default (a valid choice where there are choices)."""
    field = FIELDS[name]
    default, kind = field.default, str(field.type)
    if name == "server":
        return next(s for s in SERVERS if s != default)
    if name == "validator":
        return next(v for v in VALIDATORS if v != default)
    values: dict[str, Any] = {
        "Path": Path(f"/srv/mock/{name}.d"),
        "str": f"{name}-value",
        "str | None": f"{name} with spaces",
        "bool": not default,
        "int": default + 7 if isinstance(default, int) else 7,
        "int | None": 3,
        "float": default + 2.5 if isinstance(default, (int, float)) else 2.5,
        "tuple[str, ...]": ("http://localhost:3000", "http://dev.example:*", "*"),
    }
    assert kind in values, f"{name}: a field of type {kind} this test does not know yet"
    return values[kind]


EVERYTHING_CHANGED = Settings(**{name: other_than_default(name) for name in FIELDS})


def test_the_round_trip_covers_every_field() -> None:
    assert {
        "journal_size",
        "threads",
        "server",
        "validate_responses",
        "access_log",
        "scenario",
        "admin_token",
        "cors_origins",
    } <= set(FIELDS)
    for name, field in FIELDS.items():
        assert getattr(EVERYTHING_CHANGED, name) != field.default, name


def test_to_env_then_from_env_gives_the_same_settings() -> None:
    env = EVERYTHING_CHANGED.to_env()
    assert set(env) == {ENV_PREFIX + name.upper() for name in FIELDS}
    assert all(isinstance(value, str) for value in env.values())
    assert Settings.from_env(env) == EVERYTHING_CHANGED


def test_the_defaults_round_trip_too() -> None:
    env = Settings().to_env()
    assert ENV_PREFIX + "SCENARIO" not in env and ENV_PREFIX + "THREADS" not in env  # None: no variable
    assert Settings.from_env(env) == Settings()
    assert Settings.from_env({}) == Settings()


def test_from_env_reads_only_its_own_variables() -> None:
    env = {"MOCKSERVER_PORT": "8080", "PORT": "1", "MOCKSERVER_UNKNOWN": "x", "mockserver_seed": "5"}
    assert Settings.from_env(env) == Settings(port=8080)


FLAGS = [("1", True), ("true", True), ("YES", True), (" on ", True)]
FLAGS += [("0", False), ("false", False), ("no", False), ("", False)]


@pytest.mark.parametrize(("raw", "value"), FLAGS)
def test_flags(raw: str, value: bool) -> None:
    assert Settings.from_env({"MOCKSERVER_VALIDATE_RESPONSES": raw}).validate_responses is value


def test_the_admin_token_is_not_in_the_repr() -> None:
    settings = Settings(admin_token="s3cret-token")
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings)
    assert Settings.from_env({"MOCKSERVER_ADMIN_TOKEN": "s3cret-token"}) == settings


def test_origins_are_a_comma_separated_list() -> None:
    env = {"MOCKSERVER_CORS_ORIGINS": " http://a.example:* ,, https://b.example ,"}
    assert Settings.from_env(env).cors_origins == ("http://a.example:*", "https://b.example")
    assert Settings.from_env({"MOCKSERVER_CORS_ORIGINS": ""}).cors_origins == ()
    assert Settings(cors_origins=("*",)).to_env()["MOCKSERVER_CORS_ORIGINS"] == "*"


def test_empty_optional_values_are_none() -> None:
    settings = Settings.from_env({"MOCKSERVER_SCENARIO": "", "MOCKSERVER_THREADS": " "})
    assert (settings.scenario, settings.threads) == (None, None)


@pytest.mark.parametrize(
    ("name", "raw"),
    [("MOCKSERVER_PORT", "eighty"), ("MOCKSERVER_JOURNAL_SIZE", "1e3"), ("MOCKSERVER_THREADS", "four"),
     ("MOCKSERVER_SEED", "")],
)  # fmt: skip
def test_a_bad_integer_is_a_settings_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"MOCKSERVER_PORT": "8080", name: raw})
    message = str(info.value)
    assert message.startswith(f"{name} must be an integer"), message
    assert repr(raw) in message
    assert isinstance(info.value, MockServerError)
