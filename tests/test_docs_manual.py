"""README.md and the manual (docs/, built by MkDocs from mkdocs.yml): every link resolves, every file
path they name exists, every page is in the nav, and the README stays a short front door whose
quick-start ids are those of the default data set.

`mkdocs build --strict` (in .ci/run) checks the manual's own links and anchors too; this module also
covers the files outside docs/ (README.md, CONTRIBUTING.md, CHANGELOG.md), whose links GitHub renders,
and runs in the fast loop without building the site.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mockserver.core.settings import Settings
from mockserver.dataset.faker_data import generate_dataset

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TOP_LEVEL = [README, ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [*TOP_LEVEL, *PAGES]

README_MAX_LINES = 160
"""The front door: what it is, the quick start, where to read on, how to develop."""

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!\\)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
CODE_SPAN = re.compile(r"`+([^`]+)`+")
REPO_PATH = re.compile(r"(?<![\w/.\-$])(?:mockserver|tests|bench|scenarios|docs|\.ci)/[\w./\-]*")
GENERATED = ("mockserver/data", "bench/results", "bench/node_modules")
"""Paths that exist only after a build or a run (the wheel's data copies, benchmark output)."""
PLACEHOLDER = re.compile(r"[A-Z]{3,}|[*<>{}…]")
"""`scenarios/NAME.yaml`, `scenarios/*.yaml`: a pattern, not a file."""


def prose(path: Path) -> str:
    """The file's text without its fenced code blocks (a link or heading there is only an example)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def links(path: Path) -> Iterator[str]:
    """The targets of the file's markdown links, other than web and mail addresses."""
    for match in LINK.finditer(prose(path)):
        target = match.group(1)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            yield target


def slugs(heading: str) -> set[str]:
    """A heading's anchor as GitHub spells it and as MkDocs (Python-Markdown's toc) spells it."""
    text = CODE_SPAN.sub(r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).strip().lower()
    github = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    mkdocs = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_text).strip())
    return {github, mkdocs}


def anchors(path: Path) -> set[str]:
    return {slug for heading in HEADING.findall(prose(path)) for slug in slugs(heading)}


def broken_links(path: Path) -> Iterator[str]:
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            yield f"{target}: no such file"
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            yield f"{target}: {resolved.name} has no heading with that anchor"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_points_at_a_file_that_exists(path: Path) -> None:
    assert list(broken_links(path)) == []


def test_a_link_to_a_missing_file_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A page\n\n## Its part: `code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#its-part-code) [web](https://example.com/x.md)\n"
        "[gone](missing.md) [no anchor](there.md#elsewhere)\n"
        "```md\n[an example](nowhere.md)\n```\n",
        encoding="utf-8",
    )

    assert list(broken_links(page)) == [
        "missing.md: no such file",
        "there.md#elsewhere: there.md has no heading with that anchor",
    ]


def named_paths(path: Path) -> Iterator[str]:
    """Repository paths the file names (`mockserver/contract/compiled.py`, `tests/test_lists.py`…)."""
    for match in REPO_PATH.finditer(path.read_text(encoding="utf-8")):
        name = match.group(0).rstrip(".")
        if not name.startswith(GENERATED) and not PLACEHOLDER.search(name):
            yield name


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_file_path_named_exists(path: Path) -> None:
    assert [name for name in named_paths(path) if not (ROOT / name).exists()] == []


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move the detail to docs/"


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def entries(nav: object) -> Iterator[str]:
        if isinstance(nav, str):
            yield nav
        elif isinstance(nav, list):
            for item in nav:
                yield from entries(item)
        elif isinstance(nav, dict):
            for value in nav.values():
                yield from entries(value)

    assert config["strict"] is True
    assert sorted(entries(config["nav"])) == sorted(page.name for page in PAGES)


def test_the_readme_links_into_every_page_of_the_manual() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


def test_the_quick_start_ids_belong_to_the_default_data_set() -> None:
    text = README.read_text(encoding="utf-8")
    business = re.search(r"^B=([0-9a-f-]{36})\b", text, re.MULTILINE)
    partner = re.search(r"^P=([0-9a-f-]{36})\b", text, re.MULTILINE)
    assert business is not None and partner is not None
    defaults = Settings()
    dataset = generate_dataset(defaults.seed, defaults.partners)

    assert business.group(1) == dataset.businesses[0].id
    assert partner.group(1) in {p.id for p in dataset.partners if p.active and p.status == "available"}
