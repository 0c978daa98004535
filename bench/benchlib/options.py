"""Option groups the bench commands share, the --quick defaults, and the parsed options as a dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .common import SPEC

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    D = TypeVar("D", bound=DataclassInstance)


@dataclass(frozen=True)
class Length:
    """How long a wrk bench runs: seconds per wrk run, runs per server and case, warm-up seconds."""

    duration: int
    repeat: int
    warmup: int


FULL = Length(duration=10, repeat=3, warmup=2)


class OptionsJson:
    """For a dataclass of parsed options: the settings as results.json records them."""

    def as_json(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def options_from(cls: type[D], namespace: argparse.Namespace, **resolved: Any) -> D:
    """`cls` with each field from `resolved`, else from the namespace's attribute of the same name."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = set(resolved) - set(names)
    assert not unknown, f"{cls.__name__} has no field {sorted(unknown)}"
    return cls(**{n: resolved[n] if n in resolved else getattr(namespace, n) for n in names})


def add_length_options(p: argparse.ArgumentParser, quick: Length, case: str, warmed: str) -> None:
    """--quick, --duration, --repeat, --warmup; `case` is what a repeat repeats, `warmed` what is warmed."""
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {quick.duration} s runs, {quick.repeat} repeat, {quick.warmup} s warm-up",
    )
    p.add_argument(
        "--duration",
        type=int,
        help=f"seconds per wrk run (default {FULL.duration}; {quick.duration} with --quick)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        help=f"runs per server and {case}; medians are reported (default {FULL.repeat}; "
        f"{quick.repeat} with --quick)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        help=f"seconds of warm-up per server and {warmed} (default {FULL.warmup}; "
        f"{quick.warmup} with --quick)",
    )


def length_of(p: argparse.ArgumentParser, a: argparse.Namespace, quick: Length) -> Length:
    """The lengths asked for, --quick's where none is given; a usage error when one is out of range."""
    base = quick if a.quick else FULL
    length = Length(
        duration=base.duration if a.duration is None else a.duration,
        repeat=base.repeat if a.repeat is None else a.repeat,
        warmup=base.warmup if a.warmup is None else a.warmup,
    )
    if length.duration < 1 or length.repeat < 1 or length.warmup < 0:
        p.error("--duration and --repeat must be >= 1, --warmup >= 0")
    return length


def add_wrk_timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=int,
        default=5,
        help="wrk request timeout in seconds; slower answers count as errors (default 5)",
    )


def add_mockserver_options(p: argparse.ArgumentParser) -> None:
    """--server-cmd and --server-args: how this project's server is started."""
    p.add_argument(
        "--server-cmd",
        default=os.environ.get("MOCKSERVER_CMD"),
        help="command that starts this server, before its options (default $MOCKSERVER_CMD, else "
        "the project's `mockserver serve`)",
    )
    p.add_argument(
        "--server-args",
        default=os.environ.get("MOCKSERVER_ARGS", ""),
        help="extra options for mockserver, one shell-quoted string, e.g. '--threads 4' "
        "(default $MOCKSERVER_ARGS)",
    )


def add_prism_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prism-args", default="", help="extra options for prism mock, one shell-quoted string")


def add_spec(p: argparse.ArgumentParser, who_serves: str) -> None:
    """--spec; `who_serves` it, e.g. "both servers serve"."""
    p.add_argument(
        "--spec",
        type=Path,
        default=SPEC,
        help=f"OpenAPI document; {who_serves} one snapshot of it (default openapi.yaml)",
    )


def add_install_and_output(p: argparse.ArgumentParser, output: Path) -> None:
    """--no-install, and --output (the markdown report)."""
    p.add_argument(
        "--no-install", action="store_true", help="do not install anything; fail when a tool is missing"
    )
    p.add_argument(
        "--output",
        type=Path,
        default=output,
        help=f"markdown report (default {output.relative_to(SPEC.parent)})",
    )


def names_of(p: argparse.ArgumentParser, option: str, value: str, known: tuple[str, ...]) -> list[str]:
    """A comma-separated list of distinct names among `known`; a usage error otherwise."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in known]
    if not items or unknown or len(set(items)) != len(items):
        p.error(f"{option} takes distinct names among {', '.join(known)} (got {value!r})")
    return items
