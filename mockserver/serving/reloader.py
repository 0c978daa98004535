"""Live reload (`serve --watch`): an edit to the scenario file or to the spec is served as soon as it
loads, and one that does not load is reported while the last good version keeps serving.

The files' directories are watched through the OS's notifications (watchfiles: inotify on Linux), not
read in a loop: editors save by writing a new file and renaming it over the old one, which a watch on
the file itself would lose.

Every reload builds a new app with `create_app`, from the same settings, in the watcher's thread (never
on the request path), and swaps it in with one assignment; requests in flight finish on the old one.
So nothing of the old app's state survives, as on a restart: the journal, sessions, links, click events
and anything set through `/__admin` start again as the files say. A scenario edit reuses the spec
already loaded (and the validators compiled from it). Building the whole app, rather than switching
the data set of the running one (`Sessions.switch`), serves everything a scenario file holds, whatever
that grows to include, through the one code path that start-up takes.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

from mockserver.app import create_app
from mockserver.contract.spec import get_spec, load_spec
from mockserver.core.channels import REDIS_EXTENSION
from mockserver.core.settings import Settings
from mockserver.core.startup_errors import MockServerError
from mockserver.dataset.scenario import resolve_scenario

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask import Flask

STEP_MS = 100
"""How long watchfiles waits for more changes after one before it reports them, and how often its
thread wakes to look at its stop event (about a millisecond of CPU a second while idle)."""
STOP_TIMEOUT = 2.0


class ReloadingApp:
    """The WSGI app the server runs under `--watch`: each request goes to the current Flask app, which a
    reload replaces in one assignment, and only with an app that was built without an error."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.settings: Settings = app.config["MOCKSERVER_SETTINGS"]
        self.spec_path = self.settings.spec_path.resolve()
        self.scenario_path: Path | None = None
        if self.settings.scenario is not None:
            scenario = resolve_scenario(self.settings.scenario, self.settings.scenarios_dir)
            self.scenario_path = scenario.resolve()
        with app.app_context():
            self.spec = get_spec()  # the last spec that loaded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app.wsgi_app(environ, start_response)

    @property
    def watched(self) -> list[Path]:
        """The files whose edits are served: the spec, and the scenario file when there is one."""
        return [path for path in (self.spec_path, self.scenario_path) if path is not None]

    def start(self) -> None:
        """Watch in a daemon thread until `stop`. watchfiles' own "1 change detected" lines are left
        out: `_report` says what a change did, as one `mockserver:` line."""
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._watch, name="mockserver-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns once the watcher's thread has ended (within STEP_MS)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)

    def _watch(self) -> None:
        directories = sorted({path.parent for path in self.watched})
        watched = set(self.watched)
        try:
            for changes in watchfiles.watch(
                *directories,
                watch_filter=lambda change, path: Path(path) in watched,
                step=STEP_MS,
                stop_event=self._stop,
                recursive=False,
                raise_interrupt=False,
            ):
                self.reload({Path(path) for _, path in changes})
        except (OSError, RuntimeError) as exc:  # a watched directory removed, the OS's limit on watches
            _report("stopped watching for changes; the current version keeps serving", str(exc))

    def reload(self, changed: set[Path]) -> bool:
        """Serve the files as they are now, if `changed` holds one of them; False when they do not load
        (reported on stderr with the text `mockserver check` prints; the last good version stays).

        A spec that loads is kept even when the app cannot be built for the scenario's fault: the
        scenario's next edit is then served with it.
        """
        edited = ", ".join(str(path) for path in self.watched if path in changed)
        if not edited:
            return True
        try:
            if self.spec_path in changed:
                self.spec = load_spec(self.settings.spec_path)
            previous, self.app = self.app, create_app(self.settings, self.spec)
            shared = previous.extensions.get(REDIS_EXTENSION)
            if shared is not None:  # with --state: the old app's thread and connections
                shared.close()
        except (MockServerError, OSError) as exc:
            _report(f"{edited} changed; the last good version keeps serving", str(exc))
            return False
        except Exception as exc:  # a bug here must not end the watching
            _report(f"{edited} changed; the last good version keeps serving", repr(exc))
            return False
        _report(f"reloaded {edited}")  # as soon as it serves; the collection below takes a while
        _settle()
        return True


def _settle() -> None:
    """What start-up froze (serving's `_settle`) is released, the replaced objects are collected, and
    what lives on is frozen again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _report(message: str, error: str = "") -> None:
    """To stderr even under --quiet (which silences per-request lines only), like the start-up lines;
    an error of several problems gets an `error:` line each, as `mockserver check` prints them."""
    lines = [f"mockserver: {message}", *(f"error: {line}" for line in error.splitlines())]
    print("\n".join(lines), file=sys.stderr, flush=True)
