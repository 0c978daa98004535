"""A scenario file read safely and within bounds: size, UTF-8, tags, duplicate keys and aliases are
checked on the YAML node tree before anything is built, and every JSON path keeps its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .exceptions import MockServerError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 300_000
"""Cap on YAML nodes once aliases are expanded, counted before anything is expanded or built."""
MAX_ALIASES = 1_000
"""Cap on alias uses (`*name`): a small file of many aliases would expand into a huge document."""
SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's SafeLoader when PyYAML was built with it: ~10x faster, nesting capped at 1000."""
YAML_PREFIX = "tag:yaml.org,2002:"
SAFE_TAGS = frozenset(t for t in yaml.SafeLoader.yaml_constructors if t) | {YAML_PREFIX + "merge"}
"""Tags SafeLoader builds (plus `<<` merge keys); anything else is refused before building."""

JsonPath = tuple[str | int, ...]
Lines = dict[JsonPath, int]


class ScenarioError(MockServerError):
    """A scenario that cannot be used; `str()` is "<file>:<line>: <message>"."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        super().__init__(path, line, message)
        self.path = Path(path)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


def read_text(path: Path) -> str:
    """The file as text, refusing anything over MAX_BYTES or not UTF-8."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(path, None, "no such file") from None
    except OSError as exc:
        raise ScenarioError(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError:
        raise ScenarioError(path, None, "the path contains a NUL byte") from None
    if len(raw) > MAX_BYTES:
        limit = MAX_BYTES // 2**20
        raise ScenarioError(path, None, f"the file is over {limit} MB; use Faker data for volume")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, None, f"not UTF-8 (bad byte at offset {exc.start})") from None


def parse_yaml(text: str, path: Path) -> tuple[Any, Lines]:
    """Compose with SafeLoader, check tags and keys on the node tree, then construct plain data."""
    loader = SAFE_LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError(path, None, "the file is empty; see scenario.schema.json")
        _check_size(root, path)
        lines = _index(root, path)
        return loader.construct_document(root), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        line = mark.line + 1 if mark else None
        raise ScenarioError(path, line, f"invalid YAML: {detail}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, None, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError(path, None, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _check_size(root: yaml.Node, path: Path) -> None:
    """Refuse a file whose aliases are too many or expand too far, in time linear in the file.

    Each node is visited once (an alias is the same node object met again); only when there are
    aliases is the expanded size computed, bottom-up from the children's, so nothing is expanded.
    """
    seen = {id(root)}
    order = [root]
    aliases = 0
    for node in order:  # grows while it is walked: a breadth-first walk of distinct nodes
        for child in _children(node):
            if id(child) in seen:
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise ScenarioError(path, None, f"more than {MAX_ALIASES} YAML aliases")
            else:
                seen.add(id(child))
                order.append(child)
    if aliases == 0:
        return  # as many nodes as the file spells out: bounded by MAX_BYTES
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # depth-first, each node once; a node's size once its children's are known
        node, children_done = stack.pop()
        if children_done:
            expanded[id(node)] = 1 + sum(expanded.get(id(child), 1) for child in _children(node))
        elif id(node) not in expanded:
            expanded[id(node)] = 1  # in progress: a recursive alias counts as one node
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in expanded)
    if expanded[id(root)] > MAX_NODES:
        raise ScenarioError(path, None, f"more than {MAX_NODES} YAML nodes once aliases are expanded")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _index(root: yaml.Node, path: Path) -> Lines:
    """Map each JSON path to its 1-based source line; reject unsafe tags and duplicate keys."""
    lines: Lines = {(): root.start_mark.line + 1}
    stack: list[tuple[yaml.Node, JsonPath]] = [(root, ())]
    visited = 0
    while stack:
        node, at = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise ScenarioError(path, None, f"more than {MAX_NODES} YAML nodes (aliases expanded)")
        _check_tag(node, path)
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*at, i)] = item.start_mark.line + 1
                stack.append((item, (*at, i)))
        elif isinstance(node, yaml.MappingNode):
            first_seen: dict[str, int] = {}
            for key, value in node.value:
                _check_tag(key, path)
                name, line = str(key.value), key.start_mark.line + 1
                if not isinstance(key, yaml.ScalarNode):
                    raise ScenarioError(path, line, "a key must be a plain value")
                if name in first_seen and key.tag != YAML_PREFIX + "merge":
                    message = f"duplicate key {name!r} (first at line {first_seen[name]})"
                    raise ScenarioError(path, line, message)
                first_seen[name] = line
                lines[(*at, name)] = line
                stack.append((value, (*at, name)))
    return lines


def _check_tag(node: yaml.Node, path: Path) -> None:
    """Refuse tags SafeLoader cannot build (e.g. !!python/object), before anything is built."""
    if node.tag not in SAFE_TAGS:
        tag = node.tag.replace(YAML_PREFIX, "!!")
        message = f"the tag {tag} is not allowed: scenario files hold plain YAML data only"
        raise ScenarioError(path, node.start_mark.line + 1, message)
