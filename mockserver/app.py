"""The application factory: wires spec, data, store, validation and blueprints from explicit settings."""

from __future__ import annotations

from flask import Flask

from . import admin, api, cors, errors, journal, store, validation
from .datasets import load_dataset
from .settings import Settings
from .spec import load_spec


def create_app(settings: Settings | None = None) -> Flask:
    """Build a server for one data set. Raises SpecError or ScenarioError when an input is bad."""
    settings = settings or Settings()
    app = Flask("mockserver")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, MOCKSERVER_SETTINGS=settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    spec = load_spec(settings.spec_path)
    dataset = load_dataset(settings)

    errors.init_app(app)
    journal.init_app(app, journal.Journal(settings.journal_size), access_log=settings.access_log)
    validation.init_app(
        app, spec, validator=settings.validator, validate_responses=settings.validate_responses
    )
    cors.init_app(app)
    store.init_app(app, store.Store(dataset, seed=settings.seed))
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    return app
