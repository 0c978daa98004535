"""A scenario file read safely and within bounds: size, UTF-8, nesting, aliases, tags and duplicate keys
are checked while the YAML node tree is composed and on that tree, before anything is built; every JSON
path keeps its line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockserver.contract.wording import JsonPath
from mockserver.core.startup_errors import MockServerError

MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 300_000
"""Cap on YAML nodes once aliases are expanded, counted before anything is expanded or built."""
MAX_ALIASES = 1_000
"""Cap on alias uses (`*name`): a small file of many aliases would expand into a huge document."""
MAX_DEPTH = 100
"""Cap on nested collections (aliases expanded); a scenario needs about five, a rule's body a few more."""
LINE_DEPTH = 16
"""JSON paths longer than this share their ancestor's line (keeps the line index small in any file)."""
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
TOO_MANY_NODES = f"more than {MAX_NODES} YAML nodes"
YAML_PREFIX = "tag:yaml.org,2002:"
SAFE_TAGS = frozenset(t for t in yaml.SafeLoader.yaml_constructors if t) | {YAML_PREFIX + "merge"}
"""Tags SafeLoader builds (plus `<<` merge keys); anything else is refused before building."""
SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's SafeLoader when PyYAML was built with it: its parser is ~3x faster. Only its parser and
constructor are used: the node tree is composed here, without recursion and within the bounds."""

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
    """Compose the node tree within bounds and checked (`_Composer`), then construct plain data from it.

    Nothing is built before the whole tree has passed: it is then acyclic, at most MAX_DEPTH collections
    deep and MAX_NODES nodes once expanded, so constructing it is bounded. The loader only parses and
    constructs.
    """
    loader = SAFE_LOADER(text)
    try:
        composer = _Composer(loader, path)
        root = composer.single_node()
        return loader.construct_document(root), composer.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if exc.problem and "maximum nesting depth" in exc.problem:  # libyaml's own cap (1,000 levels)
            raise ScenarioError(path, line, TOO_DEEP) from None
        detail = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        raise ScenarioError(path, line, f"invalid YAML: {detail}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


@dataclass
class _Open:
    """A collection being composed, and what is known of it so far."""

    node: yaml.SequenceNode | yaml.MappingNode
    anchor: str | None
    at: JsonPath
    """its JSON path (cut at LINE_DEPTH parts)"""
    key: yaml.ScalarNode | None = None
    """a mapping's key waiting for its value"""
    keys: dict[str, int] = field(default_factory=dict)
    """a mapping's keys so far, with their lines"""
    height: int = 1
    """collections nested in it, itself included (aliases expanded)"""
    size: int = 1
    """nodes in it, itself included, aliases expanded (at most MAX_NODES + 1)"""


class _Composer:
    """PyYAML's composer without recursion, checking each node as it comes; refused with the line:

    more than MAX_NODES nodes or MAX_DEPTH nested collections (aliases expanded: each anchored node's
    height and size are measured when it ends, so nothing is expanded), more than MAX_ALIASES aliases,
    an alias to a node that contains it (PyYAML would build a self-referencing list that no walk ever
    leaves), tags SafeLoader cannot build, duplicate and non-scalar keys. Records the line of each JSON
    path down to LINE_DEPTH parts (deeper ones, and those inside an alias, take their ancestor's).
    Events and loaders are typed `Any`: the stubs leave the C parser's marks and events half typed.
    """

    def __init__(self, loader: Any, path: Path) -> None:
        self.loader = loader
        self.path = path
        self.lines: Lines = {}
        self.open: list[_Open] = []
        self.anchors: dict[str, tuple[yaml.Node, int, int]] = {}
        """anchor -> (node, height, size) of each anchored node composed"""
        self.nodes = 0
        self.aliases = 0

    def single_node(self) -> yaml.Node:
        """The one document's root node (yaml.Loader.get_single_node)."""
        loader = self.loader
        loader.get_event()  # the stream's start
        if loader.check_event(yaml.StreamEndEvent):
            raise ScenarioError(self.path, None, "the file is empty; see scenario.schema.json")
        loader.get_event()  # the document's start
        root = self._document()
        loader.get_event()  # the document's end
        if not loader.check_event(yaml.StreamEndEvent):
            line = _line(loader.peek_event())
            raise ScenarioError(self.path, line, "invalid YAML: a second document (a scenario is one)")
        self.lines[()] = root.start_mark.line + 1
        return root

    def _document(self) -> yaml.Node:
        get_event = self.loader.get_event
        while True:
            event = get_event()
            if isinstance(event, yaml.ScalarEvent):
                node: yaml.Node = self._scalar(event)
                done = self._add(node, 0, 1, _line(event))
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                self._start(event)
                continue
            elif isinstance(event, yaml.AliasEvent):
                node, height, size = self._alias(event)
                done = self._add(node, height, size, _line(event))
            else:  # the end of a collection
                done = self._end(event)
            if done is not None:
                return done

    def _scalar(self, event: Any) -> yaml.ScalarNode:
        self._count(event)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        _check_tag(node, self.path)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, 0, 1)
        return node

    def _start(self, event: Any) -> None:
        self._count(event)
        line = _line(event)
        if len(self.open) >= MAX_DEPTH:
            raise ScenarioError(self.path, line, TOO_DEEP)
        kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        _check_tag(node, self.path)
        at = self._place(line) if self.open else ()
        self.open.append(_Open(node, event.anchor, at))

    def _end(self, event: Any) -> yaml.Node | None:
        closed = self.open.pop()
        node = closed.node
        node.end_mark = event.end_mark
        if closed.anchor is not None:  # complete: aliases to it may follow
            self.anchors[closed.anchor] = (node, closed.height, closed.size)
        return self._add(node, closed.height, closed.size, node.start_mark.line + 1)

    def _alias(self, event: Any) -> tuple[yaml.Node, int, int]:
        line = _line(event)
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise ScenarioError(self.path, line, f"more than {MAX_ALIASES} YAML aliases")
        if any(collection.anchor == event.anchor for collection in self.open):
            message = f"the alias *{event.anchor} is inside the node it names (a recursive alias)"
            raise ScenarioError(self.path, line, message)
        if event.anchor not in self.anchors:
            raise ScenarioError(self.path, line, f"invalid YAML: found undefined alias {event.anchor!r}")
        node, height, size = self.anchors[event.anchor]
        if len(self.open) + height > MAX_DEPTH:
            raise ScenarioError(self.path, line, TOO_DEEP + " once aliases are expanded")
        return node, height, size

    def _count(self, event: Any) -> None:
        """Count a new node; refuse a repeated anchor, as PyYAML does."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ScenarioError(self.path, _line(event), TOO_MANY_NODES)
        anchor = event.anchor
        if anchor is not None and (anchor in self.anchors or any(c.anchor == anchor for c in self.open)):
            message = f"invalid YAML: found duplicate anchor {anchor!r}"
            raise ScenarioError(self.path, _line(event), message)

    def _add(self, node: yaml.Node, height: int, size: int, line: int) -> yaml.Node | None:
        """Put a complete node in the collection being composed; the root when there is none."""
        if not self.open:
            if size > MAX_NODES:
                raise ScenarioError(self.path, None, TOO_MANY_NODES + " once aliases are expanded")
            return node
        parent = self.open[-1]
        parent.height = max(parent.height, height + 1)
        parent.size = min(MAX_NODES + 1, parent.size + size)
        if isinstance(parent.node, yaml.SequenceNode):
            self._place(line)
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = self._key(parent, node, line)
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None
        return None

    def _place(self, line: int) -> JsonPath:
        """The JSON path of the value now added to the innermost open collection, its line recorded
        (a mapping's value has its key's line)."""
        parent = self.open[-1]
        at = parent.at
        if isinstance(parent.node, yaml.SequenceNode):
            part: str | int = len(parent.node.value)
        elif parent.key is not None:
            part = str(parent.key.value)
        else:
            raise ScenarioError(self.path, line, "a key must be a plain value")
        if len(at) >= LINE_DEPTH:
            return at
        where = (*at, part)
        self.lines.setdefault(where, line)
        return where

    def _key(self, parent: _Open, node: yaml.Node, line: int) -> yaml.ScalarNode:
        """A mapping's key: plain, and not repeated (merge keys `<<` aside); its value's line is its own."""
        if not isinstance(node, yaml.ScalarNode):
            raise ScenarioError(self.path, line, "a key must be a plain value")
        name = str(node.value)
        if name in parent.keys and node.tag != YAML_PREFIX + "merge":
            raise ScenarioError(
                self.path, line, f"duplicate key {name!r} (first at line {parent.keys[name]})"
            )
        parent.keys[name] = line
        if len(parent.at) < LINE_DEPTH:
            self.lines.setdefault((*parent.at, name), line)
        return node


def _line(event: Any) -> int:
    """The 1-based line where an event starts."""
    line: int = event.start_mark.line + 1
    return line


def _check_tag(node: yaml.Node, path: Path) -> None:
    """Refuse tags SafeLoader cannot build (e.g. !!python/object), before anything is built."""
    if node.tag not in SAFE_TAGS:
        tag = node.tag.replace(YAML_PREFIX, "!!")
        message = f"the tag {tag} is not allowed: scenario files hold plain YAML data only"
        raise ScenarioError(path, node.start_mark.line + 1, message)
