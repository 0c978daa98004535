"""What a failing assertion of the mock's client says: the request it wanted, the closest ones the
mock journaled and how each differs, the parameter or field at fault. Every value shown is cut to
SHOWN characters, so a huge query or body cannot flood a test report."""

from __future__ import annotations

from typing import Any

from mockserver.testing.live import Reply

SHOWN = 120
"""Characters shown of one value in a failure message."""

Entry = dict[str, Any]
"""One journaled request, as `/__admin/requests/find` answers it."""


def wanted(times: int | None, pattern: dict[str, Any]) -> str:
    """`a request GET /path query={...}`, `2 requests …`, `no request …`."""
    count = {None: "a request", 0: "no request", 1: "1 request"}.get(times, f"{times} requests")
    words = [count, pattern.get("method") or "(any method)", pattern.get("path") or "(any path)"]
    words += [
        f"{key}={_show(value)}"
        for key, value in pattern.items()
        if key not in ("method", "path") and value is not None
    ]
    return " ".join(words)


def wrong_count(expected: str, matched: list[Entry]) -> str:
    """Some requests matched, but not as many as `times` said."""
    lines = [f"expected {expected}, got {len(matched)}:"]
    lines += [f"  {request_line(entry)}" for entry in matched]
    return "\n".join(lines)


def nothing_reached(expected: str, session: str) -> str:
    """The session journaled no request at all: most often the client did not send the header."""
    return (
        f"expected {expected}, but no request reached the mock in session {session} "
        "(does the client send mockserver.headers?)"
    )


def none_matched(expected: str, total: int, near_misses: list[dict[str, Any]]) -> str:
    """No request matched: the closest ones, each with what differs."""
    lines = [f"expected {expected}; none of the session's {total} request(s) matched."]
    if near_misses:
        lines.append("Closest:")
    for near in near_misses:
        lines.append(f"  {request_line(near['request'])}")
        lines += [f"      {_difference(d)}" for d in near["differences"]]
    return "\n".join(lines)


def journal_dropped(dropped: int) -> str:
    """A line to add when the journal's bound pushed requests of the session out (empty when none)."""
    if not dropped:
        return ""
    return (
        f"\n({dropped} older request(s) of this session were dropped by the journal's bound; "
        "start the mock with a larger --journal-size)"
    )


def broke_contract(session: str, violations: list[Entry]) -> str:
    """Every request of the session that broke the contract, with the mock's error details."""
    lines = [f"{len(violations)} request(s) of session {session} broke the contract:"]
    for entry in violations:
        lines.append(f"  {request_line(entry, detail=False)}")
        lines += [f"      {error_text(error)}" for error in entry.get("errors") or []]
    return "\n".join(lines)


def request_line(entry: Entry, detail: bool = True) -> str:
    """`METHOD path?query -> status`, and the first error detail of a refused request."""
    query = entry.get("query") or ""
    target = f"{entry.get('path')}?{query}" if query else str(entry.get("path"))
    line = f"{entry.get('method')} {_cut(target)} -> {entry.get('status')}"
    errors = entry.get("errors") or []
    if detail and errors and isinstance(errors[0], dict) and errors[0].get("detail"):
        line += f" ({_cut(str(errors[0]['detail']))})"
    return line


def error_text(error: Any) -> str:
    """`code [parameter per_page]: detail` from a JSON:API error object."""
    if not isinstance(error, dict):
        return _cut(str(error))
    source = error.get("source") or {}
    where = "".join(f" [{kind} {value}]" for kind, value in source.items())
    return f"{error.get('code') or error.get('status')}{where}: {error.get('detail', '')}"


def reply_errors(reply: Reply) -> str:
    """The error objects of a refusal, one `error_text` each; the start of the body if it has none."""
    try:
        errors = reply.json()["errors"]
        return "; ".join(error_text(error) for error in errors)
    except (ValueError, KeyError, TypeError):
        return reply.text(SHOWN) or "(no body)"


def _difference(difference: dict[str, Any]) -> str:
    expected, actual = _show(difference.get("expected")), _show(difference.get("actual"))
    return f"{difference.get('field')}: expected {expected}, got {actual}"


def _show(value: Any) -> str:
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
