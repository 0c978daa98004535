"""The documentation page and CORS in a real browser: headless Chromium (Debian's `chromium` package)
driven by Playwright, against `mockserver serve` in a child process.

Playwright's own browser downloads are not used: the tests launch the system's Chromium, which CI
installs (.ci/run). Without it they fail and say so; they are never skipped.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from support import API, ROOT, SPEC_OPERATIONS, serving

from mockserver.testing.live import LOCALHOST, LiveServer, free_port

pytestmark = pytest.mark.system  # headless Chromium

CHROMIUM = "chromium"
"""Debian's package and command (/usr/bin/chromium)."""
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
"""No connections of Chromium's own: this machine reaches no network but the loopback."""
SCREENSHOT = ROOT / "reports" / "browser" / "docs.png"
TIMEOUT_MS = 15_000

CALLER_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>another origin</title></head>
<body>
  <pre id="result">pending</pre>
  <script>
    const mock = new URLSearchParams(window.location.search).get("mock");
    fetch(mock + "/api/v1/partners/available?per_page=1", {
      headers: { Authorization: "Bearer alice-token" },
    })
      .then((response) => response.json().then((body) => `${response.status} ${body.data[0].type}`))
      .catch((error) => `failed: ${error.name}: ${error.message}`)
      .then((text) => { document.getElementById("result").textContent = text; });
  </script>
</body>
</html>
"""
"""A page that calls the mock with a bearer token (so the browser sends a preflight first) and writes
what came back, or how the call failed, into the page."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which(CHROMIUM)
    if executable is None:
        pytest.fail(
            f"{CHROMIUM!r} is not on PATH: these tests need Debian's Chromium "
            f"(apt-get install -y chromium; .ci/run installs it)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def mock() -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", "default")
    try:
        yield server
    finally:
        server.stop()


class CallerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(CALLER_PAGE)))
        self.end_headers()
        self.wfile.write(CALLER_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    """`http://127.0.0.1:<port>` serving CALLER_PAGE: another origin than the mock's (another port)."""
    with serving(ThreadingHTTPServer((LOCALHOST, 0), CallerPage)) as server:
        yield f"http://{LOCALHOST}:{server.server_address[1]}"


def journal(mock: LiveServer, path: str) -> list[tuple[str, int, dict[str, str]]]:
    """(method, status, headers) of the mock's journal entries for a path, oldest first."""
    entries = mock.get_json("/__admin/requests")["requests"]
    return [(e["method"], e["status"], e["headers"]) for e in entries if e["path"] == path]


def test_docs_renders_every_operation_and_calls_the_mock(page: Page, mock: LiveServer) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    mock.admin("POST", "/__admin/reset")
    page.goto(f"{mock.base}/docs")
    operation_ids = page.locator(".opblock-summary-operation-id")
    operation_ids.nth(len(SPEC_OPERATIONS) - 1).wait_for()
    assert sorted(operation_ids.all_inner_texts()) == sorted(op for _, _, op, _ in SPEC_OPERATIONS)

    operation = page.locator("#operations-partners-listAvailablePartners")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert operation.locator(".request-url pre").inner_text().startswith(f"{mock.base}{API}/available")
    assert '"type": "partners"' in operation.locator(".live-responses-table .microlight").first.inner_text()
    # The page and its assets are not journaled; the call it made is.
    entries = mock.get_json("/__admin/requests")["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [("GET", f"{API}/available", 200)]

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True)
    print(f"screenshot of /docs: {SCREENSHOT}")
    assert all(url.startswith(f"{mock.base}/") for url in requested), requested  # nothing from elsewhere


def operation_block(page: Page, operation_id: str) -> Locator:
    """The page's block of one operation, found by the operation id it shows."""
    shown_id = page.locator(".opblock-summary-operation-id", has_text=re.compile(f"^{operation_id}$"))
    return page.locator(".opblock").filter(has=shown_id)


def execute_as_filled_in(page: Page, operation_id: str) -> tuple[int, str]:
    """Open an operation, "Try it out", "Execute" with the values the page filled in: the status and
    the request URL the page shows."""
    operation = operation_block(page, operation_id)
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    status.wait_for()
    return int(status.inner_text().strip()), operation.locator(".request-url pre").inner_text()


@pytest.mark.parametrize(
    "data",
    [("--scenario", "default"), ("--seed", "7", "--partners", "40"), ("--scenario", "edge-cases")],
    ids=["default", "seed-7", "edge-cases"],
)
def test_every_operation_answers_2xx_with_the_values_the_page_fills_in(
    page: Page, data: tuple[str, ...]
) -> None:
    """The page's examples name records of the data set served, whatever it is; the page pre-authorizes
    the default user's token."""
    server = LiveServer.start(*data)
    try:
        page.goto(f"{server.base}/docs")
        operation_block(page, "disconnectPartner").wait_for()
        outcomes = {op: execute_as_filled_in(page, op) for _, _, op, _ in SPEC_OPERATIONS}
        failed = {op: outcome for op, outcome in outcomes.items() if not 200 <= outcome[0] < 300}
        assert not failed, failed
        entries = server.get_json("/__admin/requests")["requests"]
        assert sorted(e["operation_id"] for e in entries) == sorted(op for _, _, op, _ in SPEC_OPERATIONS)
        default_user = [u for u in server.get_json("/__admin/data")["users"] if u["default"]]
        assert {e["headers"].get("Authorization") for e in entries} == {"Bearer" if default_user else None}
    finally:
        server.stop()


def test_the_page_shows_its_title_and_a_loading_line_before_its_script_runs(browser: Browser) -> None:
    """With JavaScript off, the page is what a browser shows before Swagger UI has fetched the spec."""
    server = LiveServer.start("--scenario", "default")
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"{server.base}/docs")
        assert page.locator("h1").inner_text() == "Partners API (mock)"
        assert page.title() == "Partners API (mock)"
        loading = page.locator("#loading-state")
        assert loading.is_visible()
        assert loading.inner_text() == "Loading the operations from /docs/openapi.json…"
        page.screenshot(path=SCREENSHOT.with_name("docs-loading.png"))
    finally:
        context.close()
        server.stop()


def test_a_page_on_an_allowed_origin_calls_the_mock_after_a_preflight(
    page: Page, mock: LiveServer, other_origin: str
) -> None:
    mock.admin("POST", "/__admin/reset")
    page.goto(f"{other_origin}/?mock={mock.base}")
    result = page.locator("#result")
    result.filter(has_not_text="pending").wait_for()
    assert result.inner_text() == "200 partners"
    (preflight, preflight_status, preflight_headers), (method, status, headers) = journal(
        mock, f"{API}/available"
    )
    assert (preflight, preflight_status, method, status) == ("OPTIONS", 204, "GET", 200)
    assert preflight_headers["Origin"] == other_origin
    assert preflight_headers["Access-Control-Request-Method"] == "GET"
    assert preflight_headers["Access-Control-Request-Headers"].lower() == "authorization"
    assert headers["Origin"] == other_origin and headers["Authorization"] == "Bearer"


def test_a_page_on_an_origin_not_allowed_cannot_call_the_mock(page: Page, other_origin: str) -> None:
    """The mock allows one origin, on another port than the page's: the preflight is refused, so the
    browser never sends the call and the page's fetch fails."""
    allowed = f"http://{LOCALHOST}:{free_port()}"
    assert allowed != other_origin
    strict = LiveServer.start("--scenario", "default", "--cors-origin", allowed)
    try:
        page.goto(f"{other_origin}/?mock={strict.base}")
        result = page.locator("#result")
        result.filter(has_not_text="pending").wait_for()
        assert result.inner_text() == "failed: TypeError: Failed to fetch"
        assert [(method, status) for method, status, _ in journal(strict, f"{API}/available")] == [
            ("OPTIONS", 403)
        ]
    finally:
        strict.stop()
