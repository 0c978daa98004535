"""Running the app: on granian behind the RSGI front (default, measured fastest) or on waitress.

Both read a whole request before the app sees it, so a client that stalls cannot hold up others.
"""

from __future__ import annotations

import errno
import gc
import importlib.util
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from mockserver.core.settings import Settings, SettingsError
from mockserver.edge.admin_access import is_loopback
from mockserver.state.store import current_session

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask
    from granian.constants import Loops

    from mockserver.serving.front import WholeRequestFront
    from mockserver.serving.reloader import ReloadingApp

DEFAULT_THREADS = {"granian": 1, "waitress": 8}
"""Threads per server: granian's runtime threads (the app itself runs on the event loop's thread: the
work is CPU-bound under the GIL), waitress's worker threads."""
WAITRESS_CONNECTION_LIMIT = 1000
"""waitress refuses connections past its limit (100 by default): stalled clients would use it up."""
MAX_CONNECTIONS = 65_536
"""Connections granian's workers hold at once, together, whatever the open-file limit allows: an
idle one costs about 2.5 KB (measured: 1,000 idle sockets, 2.4 MiB), one mid-headers up to its
read buffer (400 KiB)."""
RESERVED_FILES = 256
"""Open files a worker keeps for itself beside its connections (listening socket, Redis, logs...)."""
LISTEN_BACKLOG = 4096
"""Connections the kernel queues before a worker accepts them (capped by net.core.somaxconn)."""
STOP_GRACE = 5
"""Seconds a stopping worker may take to finish the requests in flight (forced delays end at once);
then granian kills it: a client stalled mid-body or a slow upstream cannot hold a stop until a
container's own time-out (often 10 s) ends it in SIGKILL."""

log = logging.getLogger("mockserver")


def configure_logging(access_log: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if access_log else logging.WARNING, format="%(message)s", stream=sys.stderr
    )


def announce(app: Flask, started: float, watched: Sequence[Path] = ()) -> None:
    """Print where the server listens and what it serves (business ids and user tokens)."""
    settings: Settings = app.config["MOCKSERVER_SETTINGS"]
    store = current_session(app).store
    source = (
        f"scenario {settings.scenario}"
        if settings.scenario
        else f"Faker data (seed {settings.seed}, {settings.partners} partners)"
    )
    if settings.upstream is not None:
        mode = "strict, " if settings.strict else ""
        recording = f"; recording to {settings.record}" if settings.record else ""
        lines = [
            f"mockserver: proxying to {settings.upstream} ({mode}checked against {settings.spec_path.name}) "
            f"on http://{settings.host}:{settings.port}{recording}",
            *admin_notice(settings),
            f"  ready in {time.perf_counter() - started:.2f}s; Ctrl-C to stop",
        ]
        print("\n".join(lines), file=sys.stderr, flush=True)
        return
    lines = [f"mockserver: serving {source} on http://{settings.host}:{settings.port}"]
    if settings.state is not None:
        from mockserver.scaleout.backend import shown_url

        workers = f"{settings.workers} workers" if settings.workers > 1 else "1 worker"
        lines.append(
            f"  state in Redis at {shown_url(settings.state)}, shared ({workers} here; pid {os.getpid()})"
        )
    lines += admin_notice(settings)
    lines += [f"  business {b.id}  {b.name}" for b in store.dataset.businesses]
    for user in store.dataset.users:
        mark = " (default)" if store.default_user and user.id == store.default_user.id else ""
        lines.append(f"  user token {user.token}  {user.first_name} {user.last_name}{mark}")
    if watched:
        lines.append(f"  serving edits to {' and '.join(map(str, watched))} as they load (--watch)")
    lines.append(f"  ready in {time.perf_counter() - started:.2f}s; Ctrl-C to stop")
    print("\n".join(lines), file=sys.stderr, flush=True)


def admin_notice(settings: Settings) -> list[str]:
    """Who may reach /__admin, when other hosts can reach the server; never the token itself."""
    if settings.admin_token:
        return ["  /__admin is open to other hosts with the bearer token of --admin-token"]
    if is_loopback(settings.host):
        return []
    return [
        f"  /__admin answers 403 to other hosts than this one ({settings.host} is not loopback); "
        "set --admin-token to open it"
    ]


def _settle() -> None:
    """Move everything built at start-up out of the garbage collector's sight: shorter GC pauses."""
    gc.collect()
    gc.freeze()


def create_announced_app() -> tuple[Flask, ReloadingApp | None]:
    """The app as granian's worker builds it: settings from the environment the CLI prepared; with
    `--watch`, the reloading app around it, watching from this process."""
    from mockserver.app import create_app

    started = float(os.environ.get("MOCKSERVER_STARTED", time.perf_counter()))
    settings = Settings.from_env()
    configure_logging(settings.access_log)
    app = create_app(settings)
    reloading = start_reloading(app) if settings.watch else None
    _settle()
    announce(app, started, reloading.watched if reloading else ())
    return app, reloading


def start_reloading(app: Flask) -> ReloadingApp:
    """`serve --watch`: the app that serves edits of the spec and scenario, already watching them."""
    from mockserver.serving.reloader import ReloadingApp

    reloading = ReloadingApp(app)
    reloading.start()
    return reloading


def create_front() -> WholeRequestFront:
    """The factory granian's worker imports: the app behind the front that reads whole requests, and
    runs the requests that may block (every proxied one; admin changes and searches) on thread pools
    (`offload.Offload.pool_for` chooses; `offload.UPSTREAM_THREADS` and `ADMIN_THREADS` size them),
    with the app's memo of GET answers (`state.answer_memo`)."""
    from mockserver.serving.offload import Offload, OffloadingFront
    from mockserver.state.answer_memo import install

    app, reloading = create_announced_app()
    settings: Settings = app.config["MOCKSERVER_SETTINGS"]
    return OffloadingFront(
        reloading or app.wsgi_app,
        settings.read_timeout,
        settings.max_body_bytes,
        Offload.create(proxying=settings.upstream is not None),
        reloading.stop if reloading else None,
        max_delayed=delayed_per_worker(settings),
        memo=install(app) if reloading is None else None,  # a reload serves another app's answers
    )


def raise_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (workers inherit it): the
    connections a server can hold are sized from the machine, not from a shell's default of 1,024.
    Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + RESERVED_FILES if hard == resource.RLIM_INFINITY else hard
    if wanted <= soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):  # a limit the kernel will not grant: keep the one there is
        return soft
    return wanted


def connections_per_worker(workers: int) -> int:
    """granian's backpressure: connections one worker holds at once (idle, reading, answering or in
    a forced delay). Past it, new connections wait in the listen backlog until one ends."""
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(64, min(files - RESERVED_FILES, MAX_CONNECTIONS // workers))


def delayed_per_worker(settings: Settings) -> int:
    """Forced delays one worker waits at once: `--max-delayed`, and never more than half of its
    connections, so that delayed requests alone cannot hold every connection."""
    return max(1, min(settings.max_delayed, connections_per_worker(settings.workers) // 2))


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another process listens on, before any server starts.

    granian sets SO_REUSEPORT: a second server on the port would start beside the first and the
    kernel would split the connections between them. This probe sets only SO_REUSEADDR (as the
    servers do), so a listener of any kind conflicts with it, and a closed server's lingering
    connections do not.
    """
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise SettingsError(f"--host {host!r} cannot be used: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"port {port} on {host} is in use: another process listens there "
                    "(stop it, or choose another --port)"
                ) from None
            raise SettingsError(f"cannot listen on {host} port {port}: {exc.strerror}") from None


def event_loop() -> Loops:
    """uvloop where it is installed (a dependency on POSIX): measured 7-15% less server CPU per
    request than asyncio's own loop on the list page; named explicitly, as granian's `auto` would
    take its experimental rloop first were that installed."""
    from granian.constants import Loops

    return Loops.uvloop if importlib.util.find_spec("uvloop") is not None else Loops.asyncio


def serve_granian(settings: Settings, threads: int) -> None:
    """granian's RSGI interface with the whole-request front; it reads headers under the time-out."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    os.environ.update(settings.to_env())
    os.environ["MOCKSERVER_STARTED"] = str(time.perf_counter())
    raise_file_limit()
    server = Granian(
        "mockserver.serving.run:create_front",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        http=HTTPModes.http1,  # an HTTP/2 body may come without a length; nothing here needs HTTP/2
        workers=settings.workers,
        runtime_threads=threads,
        backlog=LISTEN_BACKLOG,
        workers_kill_timeout=STOP_GRACE,
        backpressure=connections_per_worker(settings.workers),
        http1_settings=HTTP1Settings(header_read_timeout=round(settings.read_timeout * 1000)),
        log_level=LogLevels.warning,
        log_access=False,
        loop=event_loop(),
    )
    server.serve()


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    from mockserver.admin.inspector import stop_streams

    stop_streams()  # waitress waits (5 s at most) for its threads to finish, an event stream's among them
    raise KeyboardInterrupt


def serve_waitress(settings: Settings, threads: int) -> None:
    from waitress.server import create_server

    started = time.perf_counter()
    configure_logging(settings.access_log)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    from mockserver.app import create_app

    app = create_app(settings)
    reloading = start_reloading(app) if settings.watch else None
    served: WSGIApplication = reloading or app
    _settle()
    server = create_server(
        served,
        host=settings.host,
        port=settings.port,
        threads=threads,
        ident="mockserver",
        connection_limit=WAITRESS_CONNECTION_LIMIT,
        channel_timeout=max(1, round(settings.read_timeout)),
        cleanup_interval=max(1, round(settings.read_timeout / 2)),  # how often it looks (30 s by default)
    )
    announce(app, started, reloading.watched if reloading else ())
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, _stop_on_sigterm)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if reloading is not None:
            reloading.stop()


STATE_SCHEMES = ("redis://", "rediss://", "unix://")


def check_scale_out(settings: Settings) -> None:
    """Refuse workers that would not share their state, and a state URL that cannot be used."""
    if settings.state is not None:
        if not settings.state.startswith(STATE_SCHEMES):
            raise SettingsError(f"--state must be a Redis URL (redis://host:port/db), got {settings.state!r}")
        try:
            import redis  # noqa: F401
        except ImportError:
            raise SettingsError("--state needs the redis client: pip install 'mockserver[redis]'") from None
    if settings.workers > 1 and settings.state is None:
        raise SettingsError(
            f"--workers {settings.workers} needs a shared state store: add --state redis://host:port/db "
            "(or set MOCKSERVER_STATE). Each worker process would otherwise keep its own links, click "
            "events, sessions and journal, and two requests could be answered from different data."
        )
    if settings.workers > 1 and settings.server != "granian":
        raise SettingsError(
            f"--workers {settings.workers} needs --server granian (waitress runs one process)"
        )


def serve(settings: Settings) -> None:
    """Block serving until Ctrl-C or SIGTERM."""
    check_scale_out(settings)
    runner = serve_granian if settings.server == "granian" else serve_waitress
    runner(settings, settings.threads or DEFAULT_THREADS[settings.server])
