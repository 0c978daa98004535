#!/usr/bin/env python3
"""Scale-out benchmark: does mockserver on Redis with 2 workers serve more than with 1, and at what cost
against in-memory state and Prism?

One command: install the tools (Prism pinned in bench/node_modules, wrk and redis-server from Debian's
packages), start a redis-server on a free loopback port (no persistence, its own temporary directory),
start each server configuration on the same spec snapshot, then drive three loads with wrk on one
thread, the servers taking turns, and report medians:

- fixed:  GET /api/v1/partners/available?page=1&per_page=25 with the default user's bearer token;
- varied: bench/wrk/varied.lua cycling through thousands of distinct list URLs built from the spec's
          parameters and the data set's ids (each checked for a 2xx on mockserver first);
- unique: the same script going once through tens of thousands of such URLs, none of them repeated
          to a server within the run (what kept answers cannot serve: the memo's miss path).

Standard library only (and the repository's `mockserver.testing.live`); python3 >= 3.11. Its own parts in
bench/scalelib/, what every bench command shares in bench/benchlib/; see bench/README.md.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from benchlib.common import BENCH, RESULTS, ROOT, BenchError, log
from benchlib.running import run_command
from benchlib.servers import BenchServer, mock_server, prism_server
from benchlib.tools import Tools, ensure_prism, ensure_wrk, resolve_server_cmd
from benchlib.turns import finish_load
from benchlib.workspace import Workspace, prepare_workspace, resolve_spec
from scalelib.check import CheckResult, check_urls
from scalelib.load import VARIED_LUA, Load, Wrk, run_load, warm_up
from scalelib.options import Options, parse_args
from scalelib.redis import RedisServer, ensure_redis, redis_version
from scalelib.report import Results, publish
from scalelib.urls import DataSet, UrlSet, build_urls, get_json, read_data_set

FIXED_PATH = "/api/v1/partners/available?page=1&per_page=25"
UNIQUE_CHECKED = 200
"""URLs drawn like the never-repeating load's and asked of every server before the load (not its own)."""
REDIS_CONFIGS = {"redis": (0, 1), "redis-2w": (1, 2)}
"""Redis configuration -> (database number, workers)."""
LABELS = {
    "memory": "mockserver 1 worker, in-memory",
    "redis": "mockserver 1 worker, Redis",
    "redis-2w": "mockserver 2 workers, Redis",
    "prism": "Prism (static)",
}


def check_server_options(server_cmd: list[str], configs: list[str]) -> None:
    """The Redis configurations need `mockserver serve --state` and `--workers`: fail early without."""
    needed = ["--state"] + (["--workers"] if "redis-2w" in configs else [])
    if not any(c in REDIS_CONFIGS for c in configs):
        return
    proc = subprocess.run([*server_cmd, "--help"], capture_output=True, text=True, timeout=60)
    missing = [opt for opt in needed if opt not in proc.stdout]
    if missing:
        raise BenchError(
            f"`{shlex.join(server_cmd)} --help` lists no {' or '.join(missing)}: this mockserver cannot "
            "run the Redis configurations; run with --configs memory,prism"
        )


def install(options: Options) -> tuple[Tools, str | None]:
    prism = (
        ensure_prism(options.no_install) if "prism" in options.configs else BENCH / "node_modules/.bin/prism"
    )
    tools = Tools(
        prism=prism,
        wrk=ensure_wrk(options.no_install),
        server_cmd=resolve_server_cmd(options.server_cmd, options.no_install),
    )
    redis = ensure_redis(options.no_install) if any(c in REDIS_CONFIGS for c in options.configs) else None
    return tools, redis


def make_server(
    key: str, options: Options, tools: Tools, workspace: Workspace, redis: RedisServer | None
) -> BenchServer:
    """The server of one configuration, not started: its command takes the port."""
    spec, run_dir = workspace.spec, workspace.run_dir
    if key == "prism":
        return prism_server(key, LABELS[key], tools.prism, spec, shlex.split(options.prism_args), run_dir)
    state: list[str] = []
    if key in REDIS_CONFIGS:
        assert redis is not None
        db, workers = REDIS_CONFIGS[key]
        state = ["--state", redis.url(db)] + (["--workers", str(workers)] if workers > 1 else [])
    mock_options = ["--spec", str(spec), *state, *shlex.split(options.server_args)]
    return mock_server(key, LABELS[key], tools.server_cmd, mock_options, run_dir)


def check_loads(
    servers: list[BenchServer], loads: list[Load], checked: dict[str, list[tuple[str | None, str]]]
) -> tuple[dict[tuple[str, str], CheckResult], list[str]]:
    """Each load's `checked` URLs asked once of each server (the repeating loads' own; a sample drawn
    like the never-repeating load's, which must not be asked before it runs): any non-2xx from
    mockserver ends the run; Prism's are noted."""
    checks: dict[tuple[str, str], CheckResult] = {}
    notes: list[str] = []
    for load in loads:
        lines = checked[load.key]
        for s in servers:
            result = check_urls(s, lines)
            checks[(s.key, load.key)] = result
            log(f"check: {s.label:<34} {load.key:<7} {result.summary()}")
            if not result.non_2xx:
                continue
            if s.key == "prism":
                notes.append(
                    f"Prism answered non-2xx to {result.non_2xx:,} of {result.requests:,} `{load.key}` URLs "
                    f"({result.summary()}); e.g. {result.failures[0][:160]}"
                )
            else:
                raise BenchError(
                    f"{s.label} answered non-2xx to {result.non_2xx} of {result.requests} URLs of the "
                    f"{load.key} load:\n" + "\n".join(result.failures)
                )
    return checks, notes


def unique_load(
    data: DataSet, options: Options, mock: BenchServer, varied: UrlSet | None, run_dir: Path
) -> tuple[Load, list[tuple[str | None, str]]]:
    """The never-repeating load: `--unique-urls` distinct list URLs (none of the varied load's), each
    server's runs going on through the list where its last stopped, so that no URL comes twice to a
    server (while the list lasts: a run that serves more wraps around, which the report would show
    as a shorter list than requests); and UNIQUE_CHECKED more, drawn alike, for the check before."""
    wanted = options.unique_urls + UNIQUE_CHECKED
    drawn = build_urls(
        data, wanted, options.seed + 1, options.pages, lambda url: get_json(mock, url)["meta"]["total-count"]
    )
    taken = {target for _, target in varied.lines} if varied else set()
    lines = [line for line in drawn.lines if line[1] not in taken]
    checked, lines = lines[:UNIQUE_CHECKED], lines[UNIQUE_CHECKED:]
    url_file = run_dir / "unique-urls.tsv"
    url_file.write_text("".join(f"{token or ''}\t{target}\n" for token, target in lines))
    title = (
        f"`bench/wrk/varied.lua` going once through {len(lines):,} distinct list URLs drawn like the "
        f"varied load's (`{url_file.relative_to(ROOT)}`), none of them the varied load's: every request "
        "a server gets is new to it (no answer kept by the memo can serve it)"
    )
    return Load("unique", title, "/", [], [str(VARIED_LUA), str(url_file)], served={}), checked


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    spec_src = resolve_spec(options.spec)
    tools, redis_binary = install(options)
    check_server_options(tools.server_cmd, options.configs)
    workspace = prepare_workspace(spec_src, tools, RESULTS / "scale-runs")
    info = workspace.info
    if "prism" not in options.configs:
        info["prism"] = "not run"
    redis = None
    if redis_binary:
        info["redis-server"] = redis_version(redis_binary)
        redis = RedisServer(redis_binary, workspace.run_dir / "redis-server.log")
        redis.start()
        log(f"redis-server {info['redis-server']} on port {redis.port}")
    log(
        f"scale: results in {workspace.run_dir.relative_to(ROOT)}; {info['nproc']} cores, {info['cpu']}; "
        f"load average {info['load average (start)']}"
    )

    servers = [make_server(key, options, tools, workspace, redis) for key in options.configs]
    for s in servers:
        elapsed = s.start(options.startup_timeout)
        log(f"start-up: {s.label:<34} {elapsed:.3f} s (port {s.port})")

    mock = next(s for s in servers if s.key != "prism")
    data = read_data_set(mock)
    fixed_token = data.default_token or data.tokens[0]
    loads: list[Load] = []
    urls = None
    if "fixed" in options.loads:
        loads.append(
            Load("fixed", f"`GET {FIXED_PATH}`", FIXED_PATH, [f"Authorization: Bearer {fixed_token}"], [])
        )
    if "varied" in options.loads:
        urls = build_urls(
            data,
            options.urls,
            options.seed,
            options.pages,
            lambda url: get_json(mock, url)["meta"]["total-count"],
        )
        url_file = workspace.run_dir / "varied-urls.tsv"
        urls.write(url_file)
        title = (
            f"`bench/wrk/varied.lua` cycling through {len(urls.lines):,} distinct list URLs "
            f"(`{url_file.relative_to(ROOT)}`: token, path), {len(data.businesses)} business ids, "
            f"{len(data.tokens)} users' tokens and none"
        )
        loads.append(Load("varied", title, "/", [], [str(VARIED_LUA), str(url_file)]))
    checked: dict[str, list[tuple[str | None, str]]] = {
        "fixed": [(fixed_token, FIXED_PATH)],
        "varied": urls.lines if urls else [],
    }
    if "unique" in options.loads:
        load, checked["unique"] = unique_load(data, options, mock, urls, workspace.run_dir)
        loads.append(load)
    checks, notes = check_loads(servers, loads, checked)

    wrk = Wrk(tools.wrk, options.connections, options.timeout, workspace.raw_log)
    warm_up(servers, loads, wrk, options.warmup)
    samples = run_load(servers, loads, wrk, options.duration, options.repeat)
    finish_load(servers, info)

    publish(Results(options, workspace, servers, loads, urls, checks, samples, notes))
    log(f"\nreport: {options.output}  (run folder: {workspace.run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("scale", main))
