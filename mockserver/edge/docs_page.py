"""The documentation: the served spec at `/openapi.yaml` and `/openapi.json`, and a Swagger UI page at
`/docs` whose "Try it out" calls this server.

The page renders `/docs/openapi.json`: the same document, with the ids of its examples replaced by ids
of the data set being served (its default user's business, a partner with links and an integration,
that user's token to pre-authorize), so that every operation answers 2xx with the values the page
fills in, whatever the seed or scenario. `/openapi.yaml` and `/openapi.json` stay the spec as written.

Swagger UI's files are those of the flask-swagger-ui distribution (its `dist/` folder holds Swagger UI's
npm release as is; only those files are used, not its blueprint), so the page works with no network.
Its assets live under a versioned path and are cached for a year; the page and the spec are revalidated
(ETag). None of these requests is journaled: they are not calls of the API.
"""

from __future__ import annotations

import copy
import html
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, abort, current_app, request, send_from_directory

from mockserver.contract.spec import DOCS_ASSETS, DOCS_PAGE, DOCS_SPEC, Spec, get_spec
from mockserver.core.channels import DOCS_DOCUMENT_EXTENSION, UNJOURNALED_ENVIRON_KEY
from mockserver.core.startup_errors import MockServerError
from mockserver.dataset.model import DataSet, Partner
from mockserver.state.store import get_store

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
  <style>
    body {{ margin: 0; background: #fafafa; }}
    #loading {{ max-width: 1460px; margin: 0 auto; padding: 30px 20px; }}
    #loading {{ font-family: sans-serif; color: #3b4151; }}
    #loading h1 {{ font-size: 36px; margin: 0 0 10px; }}
  </style>
</head>
<body>
  <div id="loading">
    <h1>{title}</h1>
    <p id="loading-state">Loading the operations from <a href="{spec_url}">{spec_url}</a>…</p>
    <noscript><p>This page needs JavaScript. The spec itself: <a href="/openapi.yaml">/openapi.yaml</a>,
      <a href="/openapi.json">/openapi.json</a>.</p></noscript>
  </div>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    fetch("{spec_url}")
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
          onComplete: () => document.getElementById("loading").remove(),
        }});
        // The data set's default user, so the Authorize dialog shows a token that works.
        const schemes = (spec.components || {{}}).securitySchemes || {{}};
        for (const [name, scheme] of Object.entries(schemes)) {{
          if (scheme["{token_key}"]) window.ui.preauthorizeApiKey(name, scheme["{token_key}"]);
        }}
      }})
      .catch((error) => {{
        document.getElementById("loading-state").textContent = "Cannot load {spec_url}: " + error;
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


def page_title(spec: Spec) -> str:
    """The spec's title, marked as the mock's unless it says so already ("Partners API (mock)")."""
    title = str(spec.document.get("info", {}).get("title", "API"))
    return title if "mock" in title.lower() else f"{title} (mockserver)"


def _page(spec: Spec) -> bytes:
    assets = f"{DOCS_ASSETS}{swagger_ui_dist()[1]}"
    title = html.escape(page_title(spec))
    return PAGE.format(title=title, assets=assets, spec_url=DOCS_SPEC, token_key=TOKEN_KEY).encode()


# --- the document the page renders: the spec with the data set's ids -----------------------------

TOKEN_KEY = "x-mockserver-token"
"""Set on a bearer security scheme of the page's document: the token the page pre-authorizes."""
PARAMETER_ROLES = {("query", "business_uuid"): "business", ("path", "id"): "partner"}
"""Parameters whose example must name a record of the data set: (in, name) -> what they name."""


def example_ids(dataset: DataSet) -> dict[str, str]:
    """The ids the page fills in: the default user's business (else the first one), and a partner the
    data set gives the most to show (linked users, that business's integration, active)."""
    users = {user.id: user for user in dataset.users}
    default = users.get(dataset.default_user_id or "") or (dataset.users[0] if dataset.users else None)
    first_business = dataset.businesses[0].id if dataset.businesses else None
    business_id = default.business_id if default else first_business
    found: dict[str, str] = {}
    if business_id is not None:
        found["business"] = business_id
    if dataset.partners:
        linked = {partner_id for _, partner_id in dataset.user_partner_links}
        integrated = {i.partner_id for i in dataset.integrations if i.business_id == business_id}

        def richness(partner: Partner) -> tuple[bool, bool, bool]:
            return (partner.id in linked, partner.id in integrated, partner.active)

        found["partner"] = max(dataset.partners, key=richness).id  # the first of the richest
    if default is not None:
        found["token"] = default.token
    return found


def _parameters(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameter objects of a document: the components' and those written inline."""
    found = list(document.get("components", {}).get("parameters", {}).values())
    for item in document.get("paths", {}).values():
        found += item.get("parameters", [])
        found += [p for op in item.values() if isinstance(op, dict) for p in op.get("parameters", [])]
    return [p for p in found if isinstance(p, dict) and "$ref" not in p]


def _replaced(node: Any, ids: dict[str, str]) -> Any:
    """A copy of `node` with every string equal to a key of `ids` replaced by its value."""
    if isinstance(node, dict):
        return {key: _replaced(value, ids) for key, value in node.items()}
    if isinstance(node, list):
        return [_replaced(item, ids) for item in node]
    return ids.get(node, node) if isinstance(node, str) else node


def docs_document(document: dict[str, Any], dataset: DataSet) -> dict[str, Any]:
    """The spec as the page shows it: the examples of the parameters that name a business or a
    partner, and every other use of the ids they had (request bodies, responses), name records of
    `dataset`; a bearer scheme carries the default user's token (TOKEN_KEY)."""
    ids = example_ids(dataset)
    shown = copy.deepcopy(document)
    replaced: dict[str, str] = {}
    for parameter in _parameters(shown):
        role = PARAMETER_ROLES.get((parameter.get("in", ""), parameter.get("name", "")))
        if role is None or role not in ids:
            continue
        if isinstance(parameter.get("example"), str):
            replaced[parameter["example"]] = ids[role]
        parameter.pop("examples", None)  # `example` and `examples` exclude each other
        parameter["example"] = ids[role]
    shown = dict(_replaced(shown, replaced))
    for scheme in shown.get("components", {}).get("securitySchemes", {}).values():
        bearer = scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"
        if bearer and "token" in ids:
            scheme[TOKEN_KEY] = ids["token"]
    return shown


def _docs_json(spec: Spec) -> bytes:
    """The page's document for the data set the request is served (built again when it switches);
    a proxy's page shows the spec as written, since its calls go to the upstream's data."""
    if current_app.config["MOCKSERVER_SETTINGS"].upstream is not None:
        return spec.derived("openapi.json", _spec_json)
    dataset = get_store().dataset
    cached: tuple[DataSet, bytes] | None = current_app.extensions.get(DOCS_DOCUMENT_EXTENSION)
    if cached is not None and cached[0] is dataset:
        return cached[1]
    body = orjson.dumps(docs_document(spec.document, dataset), option=orjson.OPT_NON_STR_KEYS)
    current_app.extensions[DOCS_DOCUMENT_EXTENSION] = (dataset, body)
    return body


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


@bp.get(DOCS_SPEC)
def docs_spec_json() -> Response:
    """The document the page renders: the spec with the served data set's ids as its examples."""
    return _revalidated(_docs_json(get_spec()), "application/json")


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
