"""`core.context`: the request, `g` and app the hooks and views read are Flask's own current ones."""

from __future__ import annotations

import threading

import flask
import pytest

from mockserver.core.context import current_flask_app, current_globals, current_request

pytestmark = pytest.mark.app


def test_they_are_the_objects_behind_flask_s_proxies() -> None:
    app = flask.Flask("one")
    with app.test_request_context("/a?b=1"):
        assert current_request() is flask.request._get_current_object()  # type: ignore[attr-defined]
        assert current_globals() is flask.g._get_current_object()
        assert current_flask_app() is app
        current_globals().marker = "set here"
        assert flask.g.marker == "set here"


def test_an_inner_request_is_current_until_it_ends() -> None:
    outer, inner = flask.Flask("outer"), flask.Flask("inner")
    with outer.test_request_context("/outer"):
        with inner.test_request_context("/inner"):
            assert current_request().path == "/inner"
            assert current_flask_app() is inner
        assert current_request().path == "/outer"
        assert current_flask_app() is outer


def test_each_thread_sees_its_own_request() -> None:
    """Offloaded requests (admin writes, the proxy) run on pool threads beside the event loop's."""
    app = flask.Flask("threads")
    seen: dict[str, str] = {}
    both_inside = threading.Barrier(2)

    def serve(path: str) -> None:
        with app.test_request_context(path):
            both_inside.wait(timeout=5)
            seen[path] = current_request().path

    threads = [threading.Thread(target=serve, args=(path,)) for path in ("/first", "/second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"/first": "/first", "/second": "/second"}


def test_outside_a_request_there_is_none() -> None:
    with pytest.raises(LookupError):
        current_request()
    with pytest.raises(LookupError):
        current_flask_app()
