"""The application factory: the parts of a server built from explicit settings, and the request
pipeline they form, declared once and in order (`pipeline`).

A request meets, in this order:

1. The WSGI layers, outermost first:
   - mock only: `forcing.by_rule.Outgoing` applies a forced delay or transport fault as the answer goes
     out (the granian front does both itself and leaves this layer idle);
   - `journal.log.JournalMiddleware`: times the request, records it once it is answered, logs a line;
   - `forcing.by_preference.ControlParameters`: takes `__code`, `__delay`… out of the query for the
     app's time, so the journal keeps the query as sent.
2. Flask's before-request hooks, in order; the first that answers ends the request:
   - `contract.message_checks.check_message`: a body that did not arrive whole, a method spelled in
     lower case, an HTTP/1.1 request without Host;
   - `edge.admin_access`: `/__admin` from another host without the token is a 403;
   - `edge.cors` (check_origin): an origin not allowed is a 403, a preflight is answered;
   - `contract.validation` (validate): the request against the spec (404, 405, 400, 415, 422…);
   - `state.sessions` (pick_session): the request's session (`X-Mock-Session`), read again from Redis
     when another worker changed it;
   - mock only: `forcing.by_rule.forced_answer` (the client's preferences, then the session's rules),
     then `forcing.by_chance` (the simulated latency, errors and faults), when asked for;
   - the view's own blueprint hooks (`api.views` resolves the current user; `edge.docs_page` serves
     the documentation), then the view.
3. The after-request hooks: `contract.response_check` (with `--validate-responses`), then
   `edge.cors` (allow_origin), then `journal.log.keep_answer` (the answer as sent, for the journal).
   Errors anywhere become JSON:API documents (`core.api_errors`).

The keys and `flask.g` attributes these stages hand each other are listed in `core.channels`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response

from mockserver.admin import endpoints as admin
from mockserver.api import views as api
from mockserver.contract import response_check, validation
from mockserver.contract.message_checks import check_message
from mockserver.contract.spec import Spec, admin_spec, load_spec
from mockserver.core import api_errors
from mockserver.core.lean_flask import LeanFlask
from mockserver.core.settings import Settings
from mockserver.dataset.model import DataSet
from mockserver.dataset.selection import describe_dataset, load_dataset, requested_dataset
from mockserver.edge import docs_page
from mockserver.edge.admin_access import admin_access_hook
from mockserver.edge.cors import origin_hooks
from mockserver.forcing.by_chance import chaos_hook
from mockserver.forcing.by_preference import ControlParameters
from mockserver.forcing.by_rule import Outgoing, forced_answer
from mockserver.journal import log as journal
from mockserver.proxy import forwarding as proxy
from mockserver.proxy.recording import Recorder
from mockserver.rules.book import compile_rules
from mockserver.state import sessions, store

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

WsgiLayer = Callable[["WSGIApplication"], "WSGIApplication"]
BeforeHook = Callable[[], Response | None]
AfterHook = Callable[[Response], Response]


@dataclass(frozen=True)
class Pipeline:
    """What a request passes through, each list in the order a request meets it."""

    wsgi_layers: Sequence[WsgiLayer]
    """Around the Flask app, outermost first."""
    before_request: Sequence[BeforeHook]
    after_request: Sequence[AfterHook]

    def install(self, app: Flask) -> None:
        for layer in reversed(self.wsgi_layers):  # the innermost wraps the app first
            app.wsgi_app = layer(app.wsgi_app)  # type: ignore[method-assign,assignment]
        for before in self.before_request:
            app.before_request(before)
        for after in reversed(self.after_request):  # Flask runs after-request hooks last added first
            app.after_request(after)


def create_app(settings: Settings | None = None, spec: Spec | None = None) -> Flask:
    """Build a server for one data set (or, with `settings.upstream`, a proxy that checks a real server's
    traffic); raises a MockServerError (SpecError, ScenarioError, UpstreamError) on bad input.

    `spec` is the already loaded `settings.spec_path`, for callers that build many apps (tests).
    """
    settings = settings or Settings()
    app = LeanFlask("mockserver")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, MOCKSERVER_SETTINGS=settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # `//` and a missing trailing slash would be answered by a redirect with an HTML body: 404 instead.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False

    spec = spec or load_spec(settings.spec_path)
    dataset = load_dataset(settings, spec)
    data_store = store.Store(dataset, settings.seed, settings.max_click_events)
    source = describe_dataset(settings)
    rules = compile_rules(list(dataset.rules), spec)
    shared: tuple[sessions.SessionRegistry, journal.RequestLog] | None = None
    if settings.state is not None:
        from mockserver.scaleout import backend as redis_backend

        def build(body: Any) -> tuple[DataSet, int, str]:
            return requested_dataset(body, settings, spec)

        shared = redis_backend.init_app(app, settings, spec, data_store, build, source, rules)

    api_errors.init_app(app)
    request_log = shared[1] if shared else journal.Journal(settings.journal_size)
    journaling = journal.init_app(app, request_log, access_log=settings.access_log)
    validate = validation.init_app(
        app,
        spec,
        validator=settings.validator,
        admin_spec=admin_spec(),
        forward_invalid=settings.upstream is not None,
    )
    pick_session = sessions.init_app(
        app,
        shared[0]
        if shared
        else sessions.Sessions(
            data_store,
            settings.session_ttl,
            settings.max_sessions,
            source=source,
            rules=rules,
            max_rendered=settings.max_rendered,
            max_switched_partners=settings.max_switched_partners,
        ),
    )
    check_origin, allow_origin = origin_hooks(settings)
    mocking = settings.upstream is None
    forcing = [forced_answer, *filter(None, [chaos_hook(settings)])] if mocking else []
    pipeline = Pipeline(
        wsgi_layers=[*([Outgoing] if mocking else []), journaling, ControlParameters],
        before_request=[
            check_message,
            admin_access_hook(settings),
            check_origin,
            validate,
            pick_session,
            *forcing,
        ],
        after_request=[
            *([response_check.response_check_hook(app)] if settings.validate_responses else []),
            allow_origin,
            journal.keep_answer,
        ],
    )
    pipeline.install(app)

    if mocking:
        app.register_blueprint(api.bp)
    else:
        upstream = proxy.Upstream.parse(settings.upstream or "", settings.upstream_timeout)
        recorder = Recorder(Path(settings.record), settings.upstream or "") if settings.record else None
        proxy.init_app(app, upstream, strict=settings.strict, recorder=recorder)
    app.register_blueprint(admin.bp)
    docs_page.init_app(app, spec)
    return app
