"""Plain helpers and constants shared by the test modules (fixtures live in conftest.py).

The default scenario's ids, the error kinds and vocabularies as error details spell them, apps built
from explicit settings with a client that checks every response against the spec, raw requests, and
the assertions on whole error documents and on the state a failing request must leave alone.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder, TestResponse

from mockserver import Settings, create_app
from mockserver.contract.spec import admin_spec, load_spec
from mockserver.core.channels import REDIS_EXTENSION
from mockserver.dataset.model import Business, DataSet, Partner, PartnerIntegration, User
from mockserver.testing.live import Reply, free_port

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi.yaml"
SCENARIOS_DIR = ROOT / "scenarios"

SPEC = load_spec(SPEC_PATH)
"""Loaded and validated once per test process; every app the tests build shares it (it is immutable).
Its openapi-core object is the reference responses are checked against (`spec_violations`): reading
the document again for that would double the suite's start-up."""

# --------------------------------------------------------------------------------------------------
# the default scenario (scenarios/default.yaml)

API = "/api/v1/partners"
JSON = "application/json"
MIB = 1024 * 1024

B1 = "b0000000-0000-4000-8000-000000000001"  # The Golden Fork (Alice's business)
B2 = "b0000000-0000-4000-8000-000000000002"  # Harbour & Vine (Bob's business)
ALICE = "a11ce000-0000-4000-8000-000000000001"  # the default user
BOB = "b0b00000-0000-4000-8000-000000000002"
TOKENS = {ALICE: "alice-token", BOB: "bob-token"}
BUSINESS_OF = {ALICE: B1, BOB: B2}
AS_ALICE = {"Authorization": "Bearer alice-token"}
AS_BOB = {"Authorization": "Bearer bob-token"}

PARTNERS = [f"c0000000-0000-4000-8000-{n:012d}" for n in range(1, 15)]
"""The fourteen partners, in file order."""
P01, P02, P03, P04, P05, P06, P07, P08 = PARTNERS[:8]
# P01 Fizzwell Beverages HBC; P02 TillTop POS (Alice linked); P03 LedgerLeaf (Alice linked);
# P04 TableTime (Bob linked); P07 Vinoteca Rossi Wines; P08 Nordkaffe Roasters, an active, available
# wholesaler nobody is linked to, so it appears in all three list operations.
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"
"""A well-formed id that names nothing."""
INITIAL_LINKS = frozenset({(ALICE, P02), (ALICE, P03), (BOB, P04)})
"""(user, partner) links as the scenario loads them."""

VALID_CLICK = {"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}}
CLICK_BYTES = json.dumps(VALID_CLICK).encode()

INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE partners; --",
    '" OR ""="',
    "1 UNION SELECT * FROM users",
    "$(rm -rf /)",
    "`id`",
    "; cat /etc/passwd",
    "| nc -e /bin/sh 127.0.0.1 4444",
    "{{7*7}}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "{{config.__class__.__init__.__globals__}}",
    "%s%s%s%n",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "__import__('os').system('id')",
]
"""Strings that would do something if a layer evaluated them: sent as search, ids, tokens."""

SPEC_OPERATIONS = [
    ("GET", "/api/v1/partners", "listPartners", "200"),
    ("GET", "/api/v1/partners/available", "listAvailablePartners", "200"),
    ("GET", "/api/v1/partners/wholesalers", "listWholesalers", "200"),
    ("GET", "/api/v1/partners/{id}", "getPartner", "200"),
    ("POST", "/api/v1/partners/{id}/click_event", "createPartnerClickEvent", "201"),
    ("PATCH", "/api/v1/partners/{id}/connect", "connectPartner", "200"),
    ("DELETE", "/api/v1/partners/{id}/connect", "disconnectPartner", "200"),
]
"""(method, path template, operationId, success status) of the seven operations of the notes."""

# --------------------------------------------------------------------------------------------------
# error kinds: (status, code, title), as mockserver/core/api_errors.py defines them

INVALID_PARAMETER = (400, "invalid_parameter", "Invalid parameter")
MISSING_PARAMETER = (400, "missing_parameter", "Missing parameter")
UNKNOWN_PARAMETER = (400, "unknown_parameter", "Unknown parameter")
DUPLICATE_PARAMETER = (400, "duplicate_parameter", "Parameter given more than once")
MALFORMED_BODY = (400, "malformed_body", "Malformed request body")
INCOMPLETE_BODY = (400, "incomplete_body", "Incomplete request body")
UNKNOWN_TOKEN = (401, "unknown_token", "Unknown bearer token")
CLIENT_GENERATED_ID = (403, "client_generated_id", "Client-generated id not supported")
NOT_FOUND = (404, "not_found", "Not found")
PARTNER_NOT_FOUND = (404, "partner_not_found", "Partner not found")
BUSINESS_NOT_FOUND = (404, "business_not_found", "Business not found")
METHOD_NOT_ALLOWED = (405, "method_not_allowed", "Method not allowed")
REQUEST_TIMEOUT = (408, "request_timeout", "Request timed out")
PARTNER_MISMATCH = (409, "partner_mismatch", "Partner does not match the path")
PAYLOAD_TOO_LARGE = (413, "payload_too_large", "Request body too large")
UNSUPPORTED_MEDIA_TYPE = (415, "unsupported_media_type", "Unsupported media type")
MISSING_BODY = (422, "missing_body", "Missing request body")
INVALID_BODY = (422, "invalid_body", "Invalid request body")

# Vocabularies and filter lists as error details spell them.
CATEGORIES = (
    "'accounting', 'delivery', 'inventory', 'marketing', 'payments', 'payroll', 'pos', "
    "'reservations', 'scheduling', 'wholesaler'"
)
WHOLESALER_TYPES = (
    "'beer', 'coffee', 'dairy', 'dry_goods', 'meat', 'produce', 'seafood', 'soft_drinks', 'spirits', 'wine'"
)
LIST_FILTERS = (
    "filter[active], filter[categories], filter[categories][], filter[country_codes], "
    "filter[country_codes][], filter[excluded_categories], filter[excluded_categories][], "
    "filter[preferred], filter[wholesaler_categories], filter[wholesaler_categories][]"
)
AVAILABLE_FILTERS = "filter[categories], filter[categories][], filter[status], filter[status][]"

# --------------------------------------------------------------------------------------------------
# apps and clients


class _RequestForResponseCheck(WerkzeugOpenAPIRequest):
    """The request as openapi-core needs it to find a response's operation: HEAD seen as GET, no body."""

    @property
    def method(self) -> str:
        return "get" if self.request.method == "HEAD" else self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return None


def _is_spec_operation(request: Any, response: Any) -> bool:
    """True when the request reached one of the spec's operations (not an unknown path or method)."""
    if request.path.startswith("/__admin/"):
        entry = admin_spec().match_path(request.path)
        return entry is not None and request.method in entry.operations
    if request.method == "OPTIONS" or not request.path.startswith(API):
        return False
    if response.status_code in (404, 405) and response.is_json:
        return response.json["errors"][0]["code"] not in ("not_found", "method_not_allowed")
    return True


def spec_violations(request: Any, response: Any) -> list[str]:
    """How a response to a spec operation breaks the spec (status, headers, body); [] when it does not.

    openapi-core's response validator: the same checks `unmarshal_response` makes, without building
    the unmarshalled objects (which costs ten times as much as the check on a page of partners).
    /__admin answers are checked against the admin API's document.
    """
    reference: OpenAPI = (admin_spec() if request.path.startswith("/__admin") else SPEC).openapi
    errors = reference.response_validator.iter_errors(
        _RequestForResponseCheck(request), WerkzeugOpenAPIResponse(response)
    )
    return [str(error.__cause__ or error) for error in errors]


class SpecCheckingClient(FlaskClient):
    """A test client that fails the test when a response to a spec operation breaks the spec."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        if _is_spec_operation(request, response):
            if request.method == "HEAD":
                assert response.get_data() == b"", "HEAD must answer without a body"
            else:
                violations = spec_violations(request, response)
                assert not violations, (
                    f"{request.method} {request.full_path} -> {response.status_code} breaks the spec: "
                    f"{violations}\n{response.get_data(as_text=True)[:2000]}"
                )
        return response


SHARED_STATE_APPS: list[Flask] = []
"""Apps made with a Redis state since the last `close_shared_state_apps` (conftest closes them after
each test: their background thread and connections)."""


def make_app(**overrides: Any) -> Flask:
    """An app from explicit settings (the shared SPEC); its test clients check responses."""
    settings = Settings(spec_path=SPEC_PATH, scenarios_dir=SCENARIOS_DIR, **overrides)
    app = create_app(settings, spec=SPEC)
    app.test_client_class = SpecCheckingClient
    app.testing = True
    if settings.state is not None:
        SHARED_STATE_APPS.append(app)
    return app


def close_shared_state_apps() -> None:
    while SHARED_STATE_APPS:
        SHARED_STATE_APPS.pop().extensions[REDIS_EXTENSION].close()


def plain_client(app: Flask) -> FlaskClient:
    """A client that does not check responses against the spec: for undocumented answers and state reads."""
    return FlaskClient(app, app.response_class, use_cookies=True)


# --------------------------------------------------------------------------------------------------
# requests


def send(
    client: FlaskClient,
    method: str,
    url: str,
    body: bytes | str | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """One request with exactly these bytes and headers (the body stays readable on `response.request`)."""
    builder = EnvironBuilder(
        path=url, method=method, data=body, content_type=content_type, headers=list((headers or {}).items())
    )
    request = builder.get_request()
    raw = request.get_data(cache=True)
    request.environ["wsgi.input"] = io.BytesIO(raw)
    response: TestResponse = client.open(request)
    return response


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header of a user's token; none for None (the request acts as the default user)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def post_click(
    client: FlaskClient,
    body: Any = VALID_CLICK,
    *,
    partner_id: str = P01,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    return send(client, "POST", f"{API}/{partner_id}/click_event", raw, content_type, headers)


def padded_click(size: int) -> bytes:
    """A valid click body padded with JSON whitespace to exactly `size` bytes."""
    assert size >= len(CLICK_BYTES)
    return CLICK_BYTES + b" " * (size - len(CLICK_BYTES))


ID_OPERATIONS = [("GET", ""), ("POST", "/click_event"), ("PATCH", "/connect"), ("DELETE", "/connect")]
"""(method, path suffix) of the four operations on /api/v1/partners/{id}."""
ID_OPERATION_IDS = [f"{method}{suffix}" for method, suffix in ID_OPERATIONS]


def id_request(
    client: FlaskClient, method: str, suffix: str, raw_id: str, headers: dict[str, str] | None = None
) -> TestResponse:
    """One of the {id} operations with `raw_id` percent-encoded as the segment (a valid click for POST)."""
    url = f"{API}/{quote(raw_id, safe='')}{suffix}"
    if method == "POST":
        return send(client, method, url, CLICK_BYTES, JSON, headers)
    return send(client, method, url, headers=headers)


# --------------------------------------------------------------------------------------------------
# error documents


def item(kind: tuple[int, str, str], detail: str, **source: str) -> dict[str, Any]:
    """One expected error object; `source` is one of parameter=, pointer=, header=."""
    status, code, title = kind
    expected: dict[str, Any] = {"status": str(status), "code": code, "title": title, "detail": detail}
    if source:
        assert len(source) == 1
        expected["source"] = dict(source)
    return expected


def canonical(error: dict[str, Any]) -> str:
    return json.dumps(error, sort_keys=True)


def check_error_document(
    got_status: int, got_mimetype: str, text: str, status: int, *items: dict[str, Any]
) -> None:
    """The response is exactly this JSON:API error document, served as JSON (never HTML).

    Each error object must be equal to an expected one, and each expected one must be there exactly
    once; the order of several errors is not part of the contract.
    """
    assert got_status == status, text[:1000]
    assert got_mimetype == JSON, (got_mimetype, text[:300])
    document = json.loads(text)
    assert isinstance(document, dict) and set(document) == {"errors"}, text[:1000]
    if len(items) == 1:
        assert document == {"errors": list(items)}, text[:1000]
    else:
        assert sorted(map(canonical, document["errors"])) == sorted(map(canonical, items)), text[:1000]


def assert_errors(response: TestResponse, status: int, *items: dict[str, Any]) -> None:
    check_error_document(
        response.status_code, response.mimetype or "", response.get_data(as_text=True), status, *items
    )


def assert_live_errors(reply: Reply, status: int, *items: dict[str, Any]) -> None:
    check_error_document(reply.status, reply.mimetype, reply.body.decode("utf-8"), status, *items)


# --------------------------------------------------------------------------------------------------
# the mutable state a failing request must leave alone

Getter = Callable[[str], tuple[int, Any]]
"""GET a path; (status, JSON body)."""


def client_getter(client: FlaskClient) -> Getter:
    """GET through a plain client of the same app: state reads need no spec check (and are faster)."""
    reader = plain_client(client.application)

    def get(path: str) -> tuple[int, Any]:
        response = reader.get(path)
        return response.status_code, response.get_json()

    return get


def state_of(get: Getter) -> dict[str, Any]:
    """Click events, every (user, partner) link, the partners Alice's flag is set on, included users.

    One list of every partner with `include=users`, read as Alice (the default user), plus the
    stored click events.
    """
    status, events = get("/__admin/click-events")
    assert status == 200, events
    status, document = get(f"{API}?business_uuid={B1}&per_page=100&include=users")
    assert status == 200, document
    partners = document["data"]
    assert len(partners) == len(PARTNERS), document["meta"]
    return {
        "click-events": events["data"],
        "links": sorted((u["id"], p["id"]) for p in partners for u in p["relationships"]["users"]["data"]),
        "alice-linked": sorted(p["id"] for p in partners if p["attributes"]["user-integration-requested"]),
        "included": sorted(r["id"] for r in document.get("included", []) if r["type"] == "users"),
    }


INITIAL_STATE: dict[str, Any] = {
    "click-events": [],
    "links": sorted(INITIAL_LINKS),
    "alice-linked": sorted(p for u, p in INITIAL_LINKS if u == ALICE),
    "included": sorted({u for u, _ in INITIAL_LINKS}),
}


def assert_still_serving(get: Getter) -> None:
    assert get("/__admin/health") == (200, {"status": "ok"})
    status, document = get(f"{API}/{P01}")
    assert status == 200 and document["data"]["id"] == P01, document


def assert_unchanged(client: FlaskClient) -> None:
    """The app still serves and its state is as the default scenario loaded it."""
    get = client_getter(client)
    assert_still_serving(get)
    assert state_of(get) == INITIAL_STATE


@contextmanager
def unchanged(get: Getter) -> Iterator[None]:
    """The block changes nothing a client can see, and the server still answers afterwards."""
    before = state_of(get)
    yield
    assert_still_serving(get)
    assert state_of(get) == before


def links(client: FlaskClient) -> set[tuple[str, str]]:
    """All (user, partner) links, read through the API (`include=users` names each partner's users)."""
    return set(state_of(client_getter(client))["links"])


def click_events(client: FlaskClient) -> list[dict[str, Any]]:
    """The stored click events, as /__admin/click-events lists them."""
    status, events = client_getter(client)("/__admin/click-events")
    assert status == 200, events
    data: list[dict[str, Any]] = events["data"]
    return data


# --------------------------------------------------------------------------------------------------
# model records for unit tests (every optional field at its scenario-file default)


def partner_id(n: int) -> str:
    return f"c0000000-0000-4000-8000-{n:012d}"


PARTNER_DEFAULTS: dict[str, Any] = {
    "wholesaler_types": [],
    "wholesaler_category": None,
    "country_code": None,
    "status": None,
    "active": True,
    "logo_url": None,
    "website_url": None,
    "website_supports_iframe": False,
    "video_url": None,
    "description": None,
    "email": None,
    "phone": None,
    "book_meeting": None,
    "display_credentials_prompt": False,
}
"""The defaults scenario.schema.json documents for optional partner fields (as JSON: lists)."""


def make_partner(n: int, name: str, **fields: Any) -> Partner:
    """Partner number n (id `partner_id(n)`), named `name`; other fields as a scenario file defaults them."""
    values: dict[str, Any] = {"categories": ()}
    values.update((key, tuple(v) if isinstance(v, list) else v) for key, v in PARTNER_DEFAULTS.items())
    values.update(fields)
    return Partner(id=partner_id(n), name=name, **values)


def make_user(user_id: str, business_id: str, token: str, first_name: str = "Test") -> User:
    return User(user_id, first_name, "User", f"{token}@example.com", business_id, token)


def make_dataset(
    partners: tuple[Partner, ...],
    links: frozenset[tuple[str, str]] = frozenset(),
    preferred: frozenset[str] = frozenset(),
    integrations: tuple[PartnerIntegration, ...] = (),
) -> DataSet:
    """Alice (default user, business B1, whose preferred partners are `preferred`) and Bob (B2)."""
    return DataSet(
        businesses=(Business(B1, "The Golden Fork", preferred), Business(B2, "Harbour & Vine")),
        users=(make_user(ALICE, B1, "alice-token", "Alice"), make_user(BOB, B2, "bob-token", "Bob")),
        partners=partners,
        integrations=integrations,
        user_partner_links=links,
    )


# --------------------------------------------------------------------------------------------------
# live servers


def server_choices() -> list[str | None]:
    """The WSGI servers `mockserver serve --server` offers, default first; [None] without the option."""
    from mockserver.cli import serve_command

    for param in serve_command.params:
        if param.name == "server":
            choices = [str(c) for c in getattr(param.type, "choices", ())]
            default = str(param.default) if param.default in choices else None
            ordered = ([default] if default else []) + [c for c in choices if c != default]
            return list(ordered) or [None]
    return [None]


def server_args(server: str | None) -> list[str]:
    return [] if server is None else ["--server", server]


REDIS_SERVER = shutil.which("redis-server")
NO_REDIS = "no redis-server binary on PATH (Debian: apt-get install redis-server; .ci/run installs it)"


class RedisServer:
    """A real `redis-server` on a free loopback port, in its own directory; `persistent` turns the
    append-only file on with an fsync before every reply, so that a restart keeps every acknowledged
    write."""

    def __init__(self, directory: Path, persistent: bool = False, port: int | None = None) -> None:
        assert REDIS_SERVER is not None, NO_REDIS
        self.directory = directory
        self.persistent = persistent
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        assert REDIS_SERVER is not None, NO_REDIS
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                import redis

                redis.Redis(port=self.port).ping()
                return self
            except (OSError, Exception):
                assert self.process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    """Run a stdlib or werkzeug HTTP server on a daemon thread for the block; shut and close it after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
