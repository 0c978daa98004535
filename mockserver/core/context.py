"""The current request, its app and `flask.g`, read without Flask's context-local proxies.

Every attribute read through `flask.request`, `flask.g` or `flask.current_app` goes through a
`werkzeug.local.LocalProxy` (about 0.7 µs each here); a request to the API made some forty of them.
The hooks and views on the request path fetch the object once from Flask's context variable
(about 0.05 µs) and use it directly. Flask keeps the current request and app contexts in those
variables (`flask.globals`); should a release move them, these fall back to the proxies' own objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask, Request
    from flask.ctx import _AppCtxGlobals

try:
    from flask.globals import _cv_app, _cv_request
except ImportError:  # pragma: no cover - a Flask without them: the proxies' objects, a little dearer
    from flask import current_app, request
    from flask import g as app_globals

    def current_request() -> Request:
        """The request being served."""
        return request._get_current_object()  # type: ignore[attr-defined,no-any-return]

    def current_globals() -> _AppCtxGlobals:
        """`flask.g` of the request being served."""
        return app_globals._get_current_object()  # type: ignore[no-any-return]

    def current_flask_app() -> Flask:
        """The app serving the request."""
        return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]

else:
    _request_context = _cv_request.get
    _app_context = _cv_app.get

    def current_request() -> Request:
        """The request being served."""
        return _request_context().request

    def current_globals() -> _AppCtxGlobals:
        """`flask.g` of the request being served."""
        return _app_context().g

    def current_flask_app() -> Flask:
        """The app serving the request."""
        return _app_context().app
