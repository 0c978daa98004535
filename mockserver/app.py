"""The application factory: wires spec, data, store, validation and blueprints from explicit settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from . import (
    admin,
    admin_access,
    api,
    chaos,
    cors,
    docs_page,
    errors,
    framing,
    journal,
    preferences,
    proxy,
    response_check,
    rule_answers,
    sessions,
    store,
    validation,
)
from .datasets import describe_dataset, load_dataset, requested_dataset
from .lean_flask import LeanFlask
from .model import DataSet
from .recording import Recorder
from .rules import compile_rules
from .settings import Settings
from .spec import Spec, admin_spec, load_spec


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
    shared: tuple[Any, Any] | None = None
    if settings.state is not None:
        from . import redis_backend

        def build(body: Any) -> tuple[DataSet, int, str]:
            return requested_dataset(body, settings, spec)

        shared = redis_backend.init_app(app, settings, spec, data_store, build, source, rules)

    errors.init_app(app)
    preferences.init_app_inner(app)  # before the journal: it shows the query as sent
    request_log = shared[1] if shared else journal.Journal(settings.journal_size)
    journal.init_app(app, request_log, access_log=settings.access_log)
    validation.init_app(
        app,
        spec,
        validator=settings.validator,
        admin_spec=admin_spec(),
        forward_invalid=settings.upstream is not None,
    )
    if settings.validate_responses:
        response_check.init_app(app)
    cors.init_app(app)
    admin_access.init_app(app, settings)  # after cors: a remote host's 403 goes first
    framing.init_app(app)  # after cors: its checks go first
    sessions.init_app(
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
    if settings.upstream is None:
        rule_answers.init_app(app)  # preferences, then rules; after validation and sessions
        chaos.init_app(app, settings)  # after rules: a rule's answer comes first
        app.register_blueprint(api.bp)
    else:
        upstream = proxy.Upstream.parse(settings.upstream, settings.upstream_timeout)
        recorder = Recorder(Path(settings.record), settings.upstream) if settings.record else None
        proxy.init_app(app, upstream, strict=settings.strict, recorder=recorder)
    app.register_blueprint(admin.bp)
    docs_page.init_app(app, spec)
    return app
