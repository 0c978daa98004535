"""The documentation page and CORS in a real browser: headless Chromium (Debian's `chromium` package)
driven by Playwright, against `mockserver serve` in a child process.

Playwright's own browser downloads are not used: the tests launch the system's Chromium, which CI
installs (.ci/run). Without it they fail and say so; they are never skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import time
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
        page = INSPECTOR_CALLER if self.path.startswith("/inspector") else CALLER_PAGE
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

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


# --- the inspector (/__admin/ui) -------------------------------------------------------------------------

INSPECTOR_SHOTS = SCREENSHOT.parent
INSPECTOR_CALLER = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>another origin</title></head>
<body>
  <pre id="fetch">pending</pre>
  <pre id="events">pending</pre>
  <iframe id="frame" title="the inspector, framed"></iframe>
  <script>
    const mock = new URLSearchParams(window.location.search).get("mock");
    const show = (id, text) => { document.getElementById(id).textContent = text; };
    fetch(mock + "/__admin/ui")
      .then((response) => `answered ${response.status}`)
      .catch((error) => `failed: ${error.name}`)
      .then((text) => show("fetch", text));
    const source = new EventSource(mock + "/__admin/events");
    source.onopen = () => show("events", "open");
    source.onerror = () => {
      show("events", source.readyState === EventSource.CLOSED ? "refused" : "error");
      source.close();
    };
    document.getElementById("frame").src = mock + "/__admin/ui";
  </script>
</body>
</html>
"""
"""A page on another origin that tries to read the inspector, follow its stream and frame it."""
P01 = "c0000000-0000-4000-8000-000000000001"


@pytest.fixture
def inspected(browser: Browser) -> Iterator[tuple[Page, LiveServer, list[str]]]:
    """The inspector open at 1280×800 on a fresh mock, following the journal; the URLs it requested."""
    server = LiveServer.start("--scenario", "default")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{server.base}/__admin/ui")
        page.locator("#connection.live").wait_for()
        yield page, server, requested
    finally:
        context.close()
        server.stop()


def row(page: Page, text: str) -> Locator:
    return page.locator("#journal tbody tr", has_text=text)


def test_the_inspector_shows_a_request_made_elsewhere_within_a_second_with_the_field_at_fault(
    inspected: tuple[Page, LiveServer, list[str]],
) -> None:
    page, server, requested = inspected
    delays = []
    for n, query in enumerate(["page=2&per_page=3", "page=x", "filter[bogus]=1"]):
        sent = time.monotonic()
        server.request("GET", f"{API}/available?{query}", headers={"X-Mock-Session": f"t{n}"})
        row(page, query).wait_for()
        delays.append(time.monotonic() - sent)
    assert max(delays) < 1.0, delays

    cells = row(page, "page=x").locator("td").all_inner_texts()
    assert cells[1:5] == ["t1", "GET", f"{API}/available?page=x", "400"]
    assert cells[6:] == ["listAvailablePartners", "mock", "invalid_parameter · parameter page"]
    assert row(page, "filter[bogus]=1").locator("td").last.inner_text() == (
        "unknown_parameter · parameter filter[bogus]"
    )
    assert row(page, "page=2&per_page=3").locator("td").last.inner_text() == ""

    page.get_by_label("violations only").check()
    assert page.locator("#journal tbody tr").count() == 2
    page.get_by_label("violations only").uncheck()
    page.locator("#filters").get_by_label("Session").select_option("t0")
    assert page.locator("#journal tbody tr").all_inner_texts() == [row(page, "per_page=3").inner_text()]
    page.locator("#filters").get_by_label("Session").select_option("")

    row(page, "page=x").focus()  # keyboard: Tab to a row, Enter opens it
    page.keyboard.press("Enter")
    detail = page.locator("#panel-detail")
    assert (
        detail.locator(".violation-box h3").inner_text() == "Off contract: invalid_parameter · parameter page"
    )
    assert detail.locator(".violation-box li strong").inner_text() == "parameter page"
    assert "X-Mock-Session" in detail.locator(".pairs").nth(1).inner_text()
    pattern = detail.locator("textarea")
    assert json.loads(pattern.input_value()) == {
        "method": "GET",
        "path": f"{API}/available",
        "query": {"page": "x"},
    }
    detail.get_by_role("button", name="Find").click()
    detail.locator(".results p").filter(has_text="match").wait_for()
    pattern.fill(json.dumps({"method": "GET", "path": f"{API}/available", "query": {"page": "3"}}))
    detail.get_by_role("button", name="Find").click()
    differences = detail.locator(".differences tr", has_text="query.page")
    differences.wait_for()
    assert differences.locator("td").all_inner_texts() == ["query.page", '"3"', '"x"']

    INSPECTOR_SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0); document.querySelector('.side').scrollTo(0, 0)")
    page.screenshot(path=INSPECTOR_SHOTS / "inspector.png")  # docs/images/inspector.png is one of these
    assert all(url.startswith(f"{server.base}/") for url in requested), requested  # nothing from elsewhere


def linked_users(server: LiveServer, session: str) -> list[str]:
    reply = server.request("GET", f"{API}/{P01}?include=users", headers={"X-Mock-Session": session})
    assert reply.status == 200, reply.text()
    return [item["id"] for item in reply.json().get("included", [])]


def listed(server: LiveServer, session: str) -> tuple[int, int]:
    """(status, partners on the first page) of the list in a session."""
    reply = server.request("GET", f"{API}/available?per_page=50", headers={"X-Mock-Session": session})
    return reply.status, len(reply.json().get("data", []))


def test_the_inspector_resets_a_session_adds_a_rule_and_switches_the_data(
    inspected: tuple[Page, LiveServer, list[str]],
) -> None:
    page, server, requested = inspected
    session = {"X-Mock-Session": "s1"}
    default_list = listed(server, "other")
    assert default_list[0] == 200 and default_list[1] > 0
    assert server.request("PATCH", f"{API}/{P01}/connect", headers=session).status == 200
    assert linked_users(server, "s1") != []
    row(page, "/connect").wait_for()

    page.get_by_role("tab", name="Sessions and rules").click()
    steer = page.locator("#panel-steer")
    steer.get_by_label("Session").select_option("s1")
    steer.get_by_role("button", name="Reset this session").click()
    page.locator("#steer-status", has_text="Session s1 reset").wait_for()
    assert linked_users(server, "s1") == []

    form = page.locator("#rule-form")
    form.get_by_label("Operation").select_option("listAvailablePartners")
    form.get_by_label("Answer status").fill("299")
    form.get_by_role("button", name="Add rule").click()
    page.locator("#rule-errors li", has_text="/respond/status").wait_for()  # checked like POST /__admin/rules
    form.get_by_label("Answer status").fill("500")
    form.get_by_role("button", name="Add rule").click()
    page.locator("#steer-status", has_text="added to session s1").wait_for()
    assert listed(server, "s1")[0] == 500
    assert listed(server, "other")[0] == 200
    page.locator("#rules tbody tr td:nth-child(4)", has_text="1").wait_for()  # its hit count, refreshed
    page.screenshot(path=INSPECTOR_SHOTS / "inspector-rules.png")
    page.locator("#rules").get_by_role("button", name=re.compile("^Remove rule")).click()
    page.locator("#steer-status", has_text="removed").wait_for()
    assert listed(server, "s1") == default_list

    page.get_by_role("tab", name="Data set").click()
    data = page.locator("#panel-data")
    assert "alice-token" in data.locator("#users").inner_text()
    data.get_by_label("Bundled scenario").select_option("empty")
    data.locator("#switch-named").get_by_role("button", name="Switch").click()
    page.locator("#data-status", has_text="now serves scenario empty").wait_for()
    assert listed(server, "s1") == (200, 0)
    assert listed(server, "other") == default_list

    data.get_by_label("Scenario (YAML or JSON)").fill("partners:\n  - id: x\n")
    data.get_by_role("button", name="Switch to this scenario").click()
    problem = page.locator("#data-errors li", has_text="partners[0].id")
    problem.wait_for()
    assert re.match(r"<inline>:2: partners\[0\]\.id: 'x' is not a lowercase UUID", problem.inner_text())
    assert listed(server, "s1") == (200, 0)  # the data set stays as it was

    data.get_by_label("Faker seed").fill("7")
    data.get_by_label("partners").fill("5")
    data.locator("#switch-faker").get_by_role("button", name="Switch").click()
    page.locator("#data-status", has_text="5 partners").wait_for()
    reference = {"X-Mock-Session": "faker-7", "Content-Type": "application/json"}
    switched = server.admin("PUT", "/__admin/scenario", json.dumps({"seed": 7, "partners": 5}), reference)
    assert switched.status == 200
    assert listed(server, "s1") == listed(server, "faker-7") != default_list
    page.screenshot(path=INSPECTOR_SHOTS / "inspector-data.png")
    assert all(url.startswith(f"{server.base}/") for url in requested), requested


def test_the_inspector_answers_no_page_of_another_origin(page: Page, other_origin: str) -> None:
    """Another origin can neither read the page nor follow the journal, and the page refuses to be
    framed (no clickjacking of its buttons)."""
    server = LiveServer.start("--scenario", "default")
    try:
        page.goto(f"{other_origin}/inspector?mock={server.base}")
        page.locator("#fetch").filter(has_not_text="pending").wait_for()
        page.locator("#events").filter(has_not_text="pending").wait_for()
        assert page.locator("#fetch").inner_text() == "failed: TypeError"
        assert page.locator("#events").inner_text() == "refused"
        page.wait_for_load_state("load")
        (frame,) = [f for f in page.frames if f is not page.main_frame]
        assert frame.url == "chrome-error://chromewebdata/"  # Chromium's "127.0.0.1 is blocked"
        page.screenshot(path=INSPECTOR_SHOTS / "inspector-other-origin.png")
    finally:
        server.stop()
