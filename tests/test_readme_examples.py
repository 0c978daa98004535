"""The examples of the README and the manual, as a reader runs them: every `sh` block made only of `curl`
commands (and the shell variables they use) runs, the README first and then the manual's pages in the
order of its `nav`, against `mockserver serve` with its defaults (Faker data, seed 1), and each answer
must be what the text says.

What is expected comes from the text itself: a status in the comment after a command (`# 204, no
body`, `# 400: per_page must be at most 100, got 1000`, the text after the colon being in the error's
detail); else the status a `Prefer` or `__code` forces (a named example's status); else a 2xx. A list
a plain request gets must not be empty (an example of a filter shows partners), and `# linked` or
`# not here` says whether the current user is linked to the partner. The Quick start's note must name
every system package the suite needs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, SPEC
from test_browser import CHROMIUM

from mockserver.contract.spec import named_examples, responses_in
from mockserver.testing.live import LiveServer

pytestmark = pytest.mark.system  # bash and curl

README = ROOT / "README.md"
MKDOCS = ROOT / "mkdocs.yml"
NAV_PAGE = re.compile(r"^\s*- [^:]+: ([\w-]+\.md)\s*$", re.MULTILINE)
DOCUMENTED_BASE = "http://127.0.0.1:4010"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.DOTALL)
LIST_PATHS = ("/api/v1/partners", "/api/v1/partners/available", "/api/v1/partners/wholesalers")
PROGRAM_PACKAGES = {CHROMIUM: "chromium", "node": "nodejs", "npm": "npm", "redis-server": "redis-server"}
"""The programs the suite runs (test_browser, test_docs_samples, the Redis tests) and Debian's packages."""


@dataclass(frozen=True)
class Example:
    where: str
    """The file and line where the command starts (`docs/admin-api.md:12`)."""
    command: str
    comment: str

    def __str__(self) -> str:
        note = f"  # {self.comment}" if self.comment else ""
        return f"{self.where}: {self.command}{note}"


def split_comment(line: str) -> tuple[str, str]:
    """A shell line and its trailing comment (a `#` outside quotes, after a space)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] == " "):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def commands(block: str, name: str, first_line: int) -> Iterator[Example]:
    """The block's commands, `\\`-continued lines joined, with their comments and lines."""
    pending: list[str] = []
    comments: list[str] = []
    start = first_line
    for offset, raw in enumerate(block.splitlines()):
        text, comment = split_comment(raw)
        if not pending:
            start = first_line + offset
        if comment:
            comments.append(comment)
        if text.endswith("\\"):
            pending.append(text[:-1].strip())
            continue
        pending.append(text.strip())
        command = " ".join(part for part in pending if part)
        if command:
            yield Example(f"{name}:{start}", command, " ".join(comments))
        pending, comments = [], []


def documents() -> list[Path]:
    """README.md, then the manual's pages in the order of mkdocs.yml's `nav`."""
    pages = NAV_PAGE.findall(MKDOCS.read_text(encoding="utf-8"))
    return [README, *(ROOT / "docs" / page for page in pages)]


def curl_examples() -> list[Example]:
    """Every command of the sh blocks that call the documented server with curl alone."""
    found = []
    for document in documents():
        text = document.read_text(encoding="utf-8")
        name = str(document.relative_to(ROOT))
        for match in SH_BLOCK.finditer(text):
            first_line = text.count("\n", 0, match.start(1)) + 1
            block = list(commands(match.group(1), name, first_line))
            if DOCUMENTED_BASE in match.group(1) and all(
                e.command.startswith("curl ") or ASSIGNMENT.match(e.command) for e in block
            ):
                found += block
    return found


def example_statuses() -> dict[str, int]:
    """The status of each named example of the spec's responses."""
    statuses = {}
    for entry in SPEC.paths:
        for operation in entry.operations.values():
            for code, response in responses_in(SPEC, operation).items():
                statuses.update(dict.fromkeys(named_examples(response), int(code)))
    return statuses


def expected_status(example: Example) -> int | None:
    """The status the README says, or a forced one; None for "any 2xx"."""
    said = re.match(r"([1-5]\d\d)\b", example.comment)
    if said:
        return int(said.group(1))
    forced = re.search(r"(?:Prefer: [^']*\bcode=|__code=)(\d{3})", example.command)
    if forced:
        return int(forced.group(1))
    named = re.search(r"\bexample=(\w+)", example.command)
    return example_statuses()[named.group(1)] if named else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def run_curl(example: Example, base: str, env: dict[str, str], scratch: Path) -> Answer:
    body = scratch / f"{example.where.replace('/', '_')}.body"
    argv = example.command.replace(DOCUMENTED_BASE, base).removeprefix("curl ")
    script = f"curl -sS -o {shlex.quote(str(body))} -w '%{{http_code}}' {argv}"
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{example}\n{result.stderr}"
    return Answer(int(result.stdout), body.read_bytes() if body.exists() else b"")


def assign(example: Example, base: str, env: dict[str, str]) -> None:
    match = ASSIGNMENT.match(example.command)
    assert match is not None
    name = match.group(1)
    script = f'{example.command.replace(DOCUMENTED_BASE, base)}; printf %s "${name}"'
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout, f"{example}\n{result.stderr}"
    env[name] = result.stdout


def problems_of(example: Example, answer: Answer) -> list[str]:
    """What the answer does not do of what the README says."""
    found = []
    status = expected_status(example)
    if status is None and not 200 <= answer.status < 300:
        found.append(f"answered {answer.status}, not a 2xx")
    elif status is not None and answer.status != status:
        found.append(f"answered {answer.status}, not {status}")
    document: dict[str, Any] = answer.json() if answer.body else {}
    said = re.match(r"[1-5]\d\d: (.+)", example.comment)
    if said and not any(said.group(1) in e.get("detail", "") for e in document.get("errors", [])):
        found.append(f"no error says {said.group(1)!r}")
    if "no body" in example.comment and answer.body:
        found.append("has a body")
    data = document.get("data")
    one = data if isinstance(data, dict) else {}
    if "the partner" in example.comment and one.get("type") != "partners":
        found.append("is not a partner")
    url = re.search(r"""https?://[^\s'"]+""", example.command)
    target = url.group(0) if url else ""
    path = re.sub(r"^https?://[^/]+", "", target).split("?")[0]
    plain = "Prefer" not in example.command and "__" not in target and example.command.startswith("curl ")
    if plain and path in LIST_PATHS and answer.status == 200 and not data:
        found.append("lists no partner")
    linked = {"linked": True, "not here": False}.get(example.comment)
    flag = one.get("attributes", {}).get("user-integration-requested")
    if linked is not None and flag is not linked:
        found.append(f"user-integration-requested is not {str(linked).lower()}")
    return found


@pytest.fixture(scope="module")
def default_server() -> Iterator[LiveServer]:
    """`mockserver serve` as the README starts it: no data option."""
    server = LiveServer.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_readme_and_the_manual_find_their_examples() -> None:
    assert len(documents()) > 10, "mkdocs.yml's nav names the manual's pages"
    examples = curl_examples()
    assert len(examples) >= 20
    assert any(e.where.startswith("README.md:") for e in examples)  # the Quick start
    assert any("filter[categories][0]=pos" in e.command for e in examples)  # Getting started
    assert any("X-Mock-Session: test-42" in e.command for e in examples)  # Sessions
    assert any("Prefer: code=404" in e.command for e in examples)  # Forcing states


def test_every_curl_example_answers_what_the_readme_says(default_server: LiveServer, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    failures = []
    for example in curl_examples():
        if ASSIGNMENT.match(example.command):
            assign(example, default_server.base, env)
            continue
        answer = run_curl(example, default_server.base, env, tmp_path)
        failures += [f"{example}\n    {problem}" for problem in problems_of(example, answer)]
    assert failures == [], "\n".join(failures)


def test_the_quick_start_names_every_package_the_suite_needs() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Quick start")
    quick_start = text[start : text.index("\n## ", start)]
    installs = re.findall(r"apt-get install -y ([a-z0-9 \n-]+)", quick_start)
    named = {package for line in installs for package in line.split()}
    assert set(PROGRAM_PACKAGES.values()) <= named, sorted(set(PROGRAM_PACKAGES.values()) - named)
