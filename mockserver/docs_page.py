"""The documentation: the served spec at `/openapi.yaml` and `/openapi.json`, and a Swagger UI page at
`/docs` whose "Try it out" calls this server.

Swagger UI's files are those of the flask-swagger-ui distribution (its `dist/` folder holds Swagger UI's
npm release as is; only those files are used, not its blueprint), so the page works with no network.
Its assets live under a versioned path and are cached for a year; the page and the spec are revalidated
(ETag). None of these requests is journaled: they are not calls of the API.
"""

from __future__ import annotations

import html
import importlib.util
from functools import lru_cache
from pathlib import Path

import orjson
from flask import Blueprint, Flask, Response, abort, request, send_from_directory

from .exceptions import MockServerError
from .journal import UNJOURNALED_ENVIRON_KEY
from .spec import DOCS_ASSETS, DOCS_PAGE, Spec, get_spec

DISTRIBUTION = "flask_swagger_ui"
"""The package whose `dist/` folder holds Swagger UI's files."""
ASSET_MAX_AGE = 365 * 24 * 3600
"""Seconds a browser keeps an asset: its URL names Swagger UI's version, so a new one has a new URL."""

bp = Blueprint("docs", __name__)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{assets}/favicon-32x32.png" sizes="32x32">
  <style>body {{ margin: 0; background: #fafafa; }}</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    fetch("/openapi.json")
      .then((response) => response.json())
      .then((spec) => {{
        // "Try it out" calls this server, whatever servers the document names.
        spec.servers = [{{ url: window.location.origin, description: "this mock" }}];
        window.ui = SwaggerUIBundle({{
          spec: spec,
          dom_id: "#swagger-ui",
          deepLinking: true,
          displayOperationId: true,
          validatorUrl: null,
        }});
      }})
      .catch((error) => {{
        document.getElementById("swagger-ui").textContent = "Cannot load /openapi.json: " + error;
      }});
  </script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def swagger_ui_dist() -> tuple[Path, str]:
    """Swagger UI's folder and version (`5.34.0`); MockServerError when the distribution is missing."""
    found = importlib.util.find_spec(DISTRIBUTION)
    if found is None or found.origin is None:
        raise MockServerError(
            "flask-swagger-ui (Swagger UI for /docs) is not installed: reinstall mockserver with its "
            "dependencies"
        )
    dist = Path(found.origin).parent / "dist"
    return dist, (dist / "VERSION").read_text(encoding="utf-8").strip().removeprefix("v")


def _spec_yaml(spec: Spec) -> bytes:
    return spec.path.read_bytes()


def _spec_json(spec: Spec) -> bytes:
    return orjson.dumps(spec.document, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2)


def _page(spec: Spec) -> bytes:
    title = f"{spec.document.get('info', {}).get('title', 'API')} (mockserver)"
    assets = f"{DOCS_ASSETS}{swagger_ui_dist()[1]}"
    return PAGE.format(title=html.escape(str(title)), assets=assets).encode()


@bp.before_request
def leave_out_of_journal() -> None:
    request.environ[UNJOURNALED_ENVIRON_KEY] = True


def _revalidated(body: bytes, mimetype: str) -> Response:
    """The answer with an ETag; a browser asks again each time and gets a 304 while it is unchanged."""
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.make_conditional(request)
    return response


@bp.get("/openapi.yaml")
def spec_yaml() -> Response:
    """The spec file as loaded at start-up, byte for byte."""
    return _revalidated(get_spec().derived("openapi.yaml", _spec_yaml), "application/yaml")


@bp.get("/openapi.json")
def spec_json() -> Response:
    """The same document as JSON, built once."""
    return _revalidated(get_spec().derived("openapi.json", _spec_json), "application/json")


@bp.get(DOCS_PAGE)
def page() -> Response:
    return _revalidated(get_spec().derived("docs-page", _page), "text/html")


@bp.get(f"{DOCS_ASSETS}<version>/<path:name>")
def asset(version: str, name: str) -> Response:
    dist, current = swagger_ui_dist()
    if version != current:
        abort(404)
    response = send_from_directory(dist, name, max_age=ASSET_MAX_AGE)
    response.cache_control.immutable = True
    return response


def init_app(app: Flask, spec: Spec) -> None:
    """Serve the documentation of `spec` (the app's); its YAML, JSON and page are made now, once per spec."""
    for key, build in (("openapi.yaml", _spec_yaml), ("openapi.json", _spec_json), ("docs-page", _page)):
        spec.derived(key, build)
    app.register_blueprint(bp)
