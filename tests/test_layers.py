"""The package's import graph, drawn from the code: no module imports itself back through others.

The layering of the rooms (each imports only from the rooms below it) is import-linter's contract in
pyproject.toml, run by `.ci/run` as `lint-imports`; this test adds what a layers contract cannot see:
a cycle between two modules of one room.
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

from mockserver.core import channels


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every cycle a depth-first walk meets, each as the modules along it."""
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                walk(imported, path)
        path.pop()
        state[module] = "done"

    for module in sorted(graph.modules):
        if module not in state:
            walk(module, [])
    return cycles


def test_no_module_imports_itself_back() -> None:
    assert import_cycles(grimp.build_graph("mockserver")) == []


def test_a_cycle_would_be_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


PACKAGE = Path(__file__).resolve().parent.parent / "mockserver"
G_USE = re.compile(r"""\bg\.(?:get\(\s*["'](\w+)["']|(\w+))|["'](\w+)["']\s+(?:not\s+)?in\s+g\b""")
KEY_LITERAL = re.compile(r"""["']mockserver\.([\w.]+)["']""")
LOGGER_NAMES = {"access"}
"""`logging.getLogger("mockserver.access")`: a logger's name, not a side channel."""


def package_sources() -> dict[str, str]:
    return {str(path.relative_to(PACKAGE)): path.read_text("utf-8") for path in PACKAGE.rglob("*.py")}


def test_every_g_attribute_has_its_line_in_channels() -> None:
    used = {
        (name, attribute)
        for name, text in package_sources().items()
        for match in G_USE.finditer(text)
        for attribute in match.groups()
        if attribute and attribute not in ("get", "pop", "setdefault")
    }
    assert used, "the pattern finds the uses of flask.g"
    assert sorted((name, a) for name, a in used if a not in channels.G_ATTRIBUTES) == []


def test_side_channel_keys_are_spelled_only_in_channels() -> None:
    spelled = sorted(
        (name, match.group(0))
        for name, text in package_sources().items()
        if name != "core/channels.py"
        for match in KEY_LITERAL.finditer(text)
        if match.group(1) not in LOGGER_NAMES
    )
    assert spelled == []
    assert {
        value for name, value in vars(channels).items() if name.endswith("_KEY") or name == "BODY_PROBLEM"
    } == channels.ENVIRON_KEYS
