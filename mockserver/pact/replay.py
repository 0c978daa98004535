"""`mockserver pact replay`: a Pact file replayed against a running provider with Pact's own verifier
(pact-python ≥ 4, its Rust core; telemetry off), each interaction's provider states set first.

Against this mock (the default), the states are set through its admin API and its API, in a session
of the replay's own: the data set is loaded with `PUT /__admin/scenario`, the user's token is looked
up in `/__admin/data` and handed to the verifier (it fills `Authorization: Bearer ${token}`), a
partner's or business's existence is checked, a link is made with `PATCH …/connect` or undone with
`DELETE …/connect`. Against another provider, the verifier posts each state to `--state-url`.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockserver.testing.live import MockEndpoint

from . import states
from .model import Pact, read_pact_file

SESSION_HEADER = "X-Mock-Session"
REQUEST_TIMEOUT_MS = 10_000


class StateError(Exception):
    """A provider state this mock cannot be brought into; the message names the state and the field."""


class MockStates:
    """Sets this mock's provider states in one session, over HTTP (admin API and API)."""

    def __init__(self, endpoint: MockEndpoint, session: str) -> None:
        self.endpoint = endpoint
        self.session = session
        self._data: dict[str, Any] | None = None

    def setup(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Bring the mock into the state; the values the verifier may use (`token`)."""
        if name == states.DATA_SET:
            self._load(params)
        elif name == states.USER:
            return {"token": self._user(params.get("id"), name)["token"]}
        elif name in (states.PARTNER, states.NO_PARTNER):
            self._partner(name, str(params.get("id")), exists=name == states.PARTNER)
        elif name == states.BUSINESS:
            ids = {business["id"] for business in self.data()["businesses"]}
            if params.get("id") not in ids:
                raise StateError(
                    f"state {name!r}: id {params.get('id')!r} is no business of {self._source()}"
                )
        elif name in (states.LINKED, states.NOT_LINKED):
            self._link(name, params)
        return {}

    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._call("GET", "/__admin/data")
        return self._data

    def _source(self) -> str:
        return str(self.data().get("source", "the data set"))

    def _load(self, params: dict[str, Any]) -> None:
        body = {key: params[key] for key in ("name", "seed", "partners", "inline") if key in params}
        if not body:
            source = params.get("source", "?")
            raise StateError(f"state {states.DATA_SET!r}: the data set {source!r} cannot be loaded again")
        self._call("PUT", "/__admin/scenario", body)
        self._data = None

    def _user(self, user_id: Any, name: str) -> dict[str, Any]:
        for user in self.data()["users"]:
            if user["id"] == user_id:
                found: dict[str, Any] = user
                return found
        raise StateError(f"state {name!r}: id {user_id!r} is no user of {self._source()}")

    def _partner(self, name: str, partner_id: str, exists: bool) -> None:
        reply = self._request("GET", f"/api/v1/partners/{partner_id}")
        if exists and reply.status != 200:
            raise StateError(f"state {name!r}: id {partner_id!r} is no partner of {self._source()}")
        if not exists and reply.status != 404:
            raise StateError(f"state {name!r}: id {partner_id!r} is a partner of {self._source()}")

    def _link(self, name: str, params: dict[str, Any]) -> None:
        token = self._user(params.get("user"), name)["token"]
        partner = params.get("partner")
        linked = name == states.LINKED
        headers = {"Authorization": f"Bearer {token}", "Prefer": "return=minimal"}
        reply = self._request("PATCH" if linked else "DELETE", f"/api/v1/partners/{partner}/connect", headers)
        if reply.status >= 300:
            raise StateError(
                f"state {name!r}: partner {partner!r} answered {reply.status}: {reply.text(300)}"
            )

    def _request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.endpoint.request(method, path, None, {SESSION_HEADER: self.session, **(headers or {})})

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {SESSION_HEADER: self.session}
        if body is not None:
            headers["Content-Type"] = "application/json"
        reply = self.endpoint.admin(
            method, path, None if body is None else json.dumps(body), headers, timeout=30
        )
        if reply.status != 200:
            raise StateError(f"{method} {path} answered {reply.status}: {reply.text(500)}")
        return reply.json()


class ForwardedStates:
    """Another provider's states: each posted to its state-change URL. Relayed rather than handed to
    the verifier, which waits forever on a state change answered with an error (pact_ffi 0.5)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def setup(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"state": name, "params": params, "action": "setup"}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_MS / 1000) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise StateError(f"state {name!r}: {self.url} answered {error.code}") from None
        except (OSError, ValueError) as error:
            raise StateError(f"state {name!r}: {self.url} cannot be reached: {error}") from None
        try:
            values = json.loads(raw) if raw.strip() else {}
        except ValueError:
            values = {}
        return values if isinstance(values, dict) else {}


@dataclass
class StateCalls:
    """What the state handler was asked, and what failed (for the report)."""

    failures: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    """(state, params, why it could not be set)."""


@contextmanager
def state_server(handler: MockStates | ForwardedStates, calls: StateCalls) -> Iterator[str]:
    """A loopback HTTP server the verifier posts each state to; its URL. A state that cannot be set
    is a 500 naming it (the verifier then fails the interaction)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            change = json.loads(self.rfile.read(length) or b"{}")
            name, params = str(change.get("state", "")), change.get("params") or {}
            payload = b"{}"
            try:
                if change.get("action", "setup") == "setup":
                    payload = json.dumps(handler.setup(name, params)).encode()
            except (StateError, OSError) as error:
                # answered 200 all the same: a failed state change makes Pact's verifier (pact_ffi
                # 0.5) wait forever; the interaction then fails on its own, and the report names both
                calls.failures.append((name, params, str(error)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="pact state handler", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mismatch:
    interaction: str
    message: str


@dataclass
class ReplayResult:
    passed: bool
    interactions: int
    mismatches: list[Mismatch]
    output: str


def replay(
    pact_path: Path,
    url: str,
    state_url: str | None = None,
    admin_token: str | None = None,
    provider: str | None = None,
) -> ReplayResult:
    """Replay every interaction of the Pact at `pact_path` against the provider at `url`."""
    os.environ["PACT_DO_NOT_TRACK"] = "true"  # before pact is imported: no telemetry
    from pact import Verifier  # imported here: an optional extra, loaded only by this command

    pact = read_pact_file(pact_path)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected a URL like http://127.0.0.1:4010, got {url!r}")
    verifier = Verifier(provider or pact.provider or "provider", host=parts.hostname)
    verifier.add_transport(
        url=None, protocol="http", port=parts.port or (443 if parts.scheme == "https" else 80),
        path=parts.path or "/", scheme=parts.scheme,
    )  # fmt: skip
    verifier.add_source(pact_path)
    verifier.set_request_timeout(REQUEST_TIMEOUT_MS)
    verifier.set_coloured_output(enabled=False)
    calls = StateCalls()
    handler: MockStates | ForwardedStates
    if state_url is not None:
        handler = ForwardedStates(state_url)
    else:
        session = f"pact-replay-{uuid.uuid4().hex[:12]}"
        verifier.add_custom_header(SESSION_HEADER, session)
        endpoint = MockEndpoint(parts.hostname, parts.port or 80)
        endpoint.admin_token = admin_token
        handler = MockStates(endpoint, session)
    with state_server(handler, calls) as handler_url:
        verifier.state_handler(handler_url, body=True)
        return _run(verifier, pact, calls)


def _run(verifier: Any, pact: Pact, calls: StateCalls) -> ReplayResult:
    try:
        verifier.verify()
        passed = True
    except RuntimeError:
        passed = False
    output = verifier.output(strip_ansi=True)
    mismatches = _with_states(pact, mismatches_of(verifier.results, pact), calls)
    return ReplayResult(passed and not mismatches, len(pact.interactions), mismatches, output)


def _with_states(pact: Pact, mismatches: list[Mismatch], calls: StateCalls) -> list[Mismatch]:
    """The states that could not be set, first, under each interaction that needed them."""
    found: list[Mismatch] = []
    failed: dict[tuple[str, str], str] = {}
    for name, params, why in calls.failures:
        failed.setdefault((name, json.dumps(params, sort_keys=True)), why)
    for interaction in pact.interactions:
        for state in interaction.states:
            reason = failed.get((state.name, json.dumps(state.params, sort_keys=True)))
            if reason is not None:
                found.append(Mismatch(interaction.description, f"provider state not set: {reason}"))
        found += [m for m in mismatches if m.interaction == interaction.description]
    known = {interaction.description for interaction in pact.interactions}
    return found + [m for m in mismatches if m.interaction not in known]


def _description(reported: str, pact: Pact) -> str:
    """The interaction's description in the verifier's "Verifying a pact … Given … - DESCRIPTION"."""
    matching = [i.description for i in pact.interactions if reported.endswith(" - " + i.description)]
    return max(matching, key=len) if matching else reported


def mismatches_of(results: dict[str, Any], pact: Pact) -> list[Mismatch]:
    """Each failed interaction's mismatches, from the verifier's JSON results."""
    found = []
    for error in results.get("errors", []) or []:
        interaction = _description(str(error.get("interaction", "?")), pact)
        mismatch = error.get("mismatch") or {}
        details = mismatch.get("mismatches") if isinstance(mismatch, dict) else None
        if details:
            for item in details:
                where = item.get("path") or item.get("key") or ""
                text = item.get("mismatch") or item.get("description") or json.dumps(item)
                found.append(Mismatch(interaction, f"{where}: {text}" if where else str(text)))
        else:
            text = mismatch.get("message") if isinstance(mismatch, dict) else None
            found.append(Mismatch(interaction, str(text or mismatch or error)))
    return found
