"""Answers kept for repeats: a GET that comes again, in the same state, is answered without the app.

A list page or a partner is a function of the request and of its session's state. So the RSGI front
(`rsgi`) asks the memo first about a GET without a body, by its key: the request as it came (path,
query, HTTP version and every header, in order: the user, the session, the origin, the preferences
are among them). The memo keeps, with each answer, what it was computed against: the session object
(the data set it serves: a switch or an eviction makes another), the store's version (every write
and reset moves it; with `--state`, a change notice from another worker makes the session read
again, and moves it on this one), the session's incarnation and its rule list (replaced whole on
every rule change). A repeat whose session is still in that state gets the same status, headers and
bytes, and is journaled (and logged) as the app would have journaled it; any other request runs the
app as before.

Kept, so served again, are only the app's own 200 answers to an API operation: nothing a preference,
a rule or a simulated error answered, nothing delayed or cut, no error, and nothing of an operation
a rule of the session is for. The memo is not built at all when latency, errors or faults are
simulated (each request draws), for the proxy, under `serve --watch` (a reload serves another app),
nor under waitress (`serving` installs it for the RSGI front).

Bounded by the answers it keeps (`--memo-answers`) and their bytes together (`--memo-bytes`); past
either the least recently served go. It is used on the event loop's thread only.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mockserver.core.channels import (
    ANSWERED_BY_KEY,
    BODY_ENVIRON_KEY,
    DELAY_KEY,
    ENTRY_ENVIRON_KEY,
    ERROR_ENVIRON_KEY,
    FAULT_KEY,
    JOURNAL_AT_CLOSE_KEY,
    JOURNAL_EXTENSION,
    MEMO_EXTENSION,
    OPERATION_ENVIRON_KEY,
    SESSIONS_EXTENSION,
)
from mockserver.core.settings import Settings
from mockserver.journal.log import Entry, Journal, journaled, log_line
from mockserver.state.sessions import SESSION_ID, Sessions

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from flask import Flask
    from granian.rsgi import Scope

ENTRY_OVERHEAD = 512
"""Bytes an answer costs beyond its body (headers, key, journal entry), for the byte bound."""
_UNFIT = (ANSWERED_BY_KEY, DELAY_KEY, FAULT_KEY, ERROR_ENVIRON_KEY, JOURNAL_AT_CLOSE_KEY, BODY_ENVIRON_KEY)
"""Environ keys of an answer that is not the view's own plain one: never kept."""

Key = tuple[str, str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Stamp:
    """The state an answer was computed against."""

    session: Any
    version: int
    incarnation: int | None
    rules: object
    """The session's rule list itself: a rule change replaces it."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A GET the memo did not have: what to keep its answer under, if the app's answer may be kept."""

    key: Key
    stamp: Stamp
    served: ClassVar[bool] = False


@dataclass(slots=True)
class Answer:
    served: ClassVar[bool] = True
    session: weakref.ref[Any]
    version: int
    incarnation: int | None
    rules: object
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    entry: Entry
    """The journal's entry of the request it answered (time and duration are each request's own)."""
    size: int

    def fits(self, stamp: Stamp) -> bool:
        return (
            self.session() is stamp.session
            and self.version == stamp.version
            and self.rules is stamp.rules
            and self.incarnation == stamp.incarnation
        )


class AnswerMemo:
    """Recent GET answers by request, each with the state it holds for; bounded by count and bytes."""

    def __init__(
        self,
        sessions: Any,
        journal: Journal,
        log: logging.Logger | None,
        max_answers: int,
        max_bytes: int,
    ) -> None:
        """`sessions`: a `sessions.Sessions`, or `redis_sessions.RedisSessions` (`current`)."""
        self.sessions = sessions
        self.in_memory = isinstance(sessions, Sessions)
        self.journal = journal
        self.log = log
        self.max_answers = max_answers
        self.max_bytes = max_bytes
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self.bytes = 0
        """Bytes the kept answers count (bodies and ENTRY_OVERHEAD each)."""
        self.hits = 0
        """Requests answered from the memo since start-up."""
        self.misses = 0
        """GETs it was asked about and had no answer for in their state (the app answered)."""
        self.dropped = 0
        """Answers the bounds pushed out since start-up."""

    def find(self, scope: Scope, header_items: list[tuple[str, str]]) -> Answer | Ticket | None:
        """The kept answer to this GET (journaled now), or a ticket to keep the app's answer under, or
        None when the request is none the memo may answer (the app answers as it would without it)."""
        headers = scope.headers
        if len(header_items) != len(headers):  # type: ignore[arg-type]  # a repeated or unreadable header
            return None
        if scope.path.startswith("/__admin"):  # answers of the journal, rules' hits...: not of the state
            return None
        started = time.perf_counter()
        stamp = self._stamp(headers.get("x-mock-session"))
        if stamp is None:
            return None
        key = (scope.path, scope.query_string, scope.http_version, tuple(header_items))
        answer = self._answers.get(key)
        if answer is None or not answer.fits(stamp):
            self.misses += 1
            return Ticket(key, stamp)
        self._answers.move_to_end(key)
        self.hits += 1
        self._journal(answer.entry, scope, started)
        return answer

    def _stamp(self, session_id: str | None) -> Stamp | None:
        """The state of the session a request names, as the app would pick it; None for an id the app
        refuses, or a store that cannot tell (the app answers those)."""
        sessions = self.sessions
        try:
            if self.in_memory:
                if session_id is None:
                    session = sessions.default
                elif SESSION_ID.fullmatch(session_id):
                    session = sessions.get(session_id)
                else:
                    return None
            elif session_id is None or SESSION_ID.fullmatch(session_id):
                session = sessions.current(session_id)
            else:
                return None
            return Stamp(session, session.store.version, session.incarnation, session.rules.rules)
        except Exception:  # the state store failed: the app answers (a 503 naming it)
            return None

    def _journal(self, template: Entry, scope: Scope, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        entry = Entry(
            template.method,
            template.path,
            template.query,
            template.status,
            round(elapsed, 3),
            template.session,
            time.time(),
            template.headers,
            operation_id=template.operation_id,
            headers_truncated=template.headers_truncated,
            incarnation=template.incarnation,
        )
        self.journal.record(entry)
        if self.log is not None:
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": template.path, "QUERY_STRING": template.query}
            log_line(self.log, scope.client.rpartition(":")[0].strip("[]"), environ, template.status, elapsed)

    def keep(
        self,
        ticket: Ticket,
        environ: WSGIEnvironment,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        """Keep the app's answer to a ticketed GET when it is the view's own 200, and the state it was
        computed against still holds."""
        operation = environ.get(OPERATION_ENVIRON_KEY)
        if status != 200 or operation is None or not journaled(environ):  # the docs, /__admin
            return
        if any(key in environ for key in _UNFIT):
            return
        stamp = ticket.stamp
        session = stamp.session
        if session.rules.tries(operation) or self._stamp_of(session) != (stamp.version, stamp.incarnation):
            return
        size = len(body) + ENTRY_OVERHEAD
        if size > self.max_bytes or self.max_answers == 0:
            return
        entry = environ.get(ENTRY_ENVIRON_KEY)
        if entry is None:
            return
        answer = Answer(
            weakref.ref(session),
            stamp.version,
            stamp.incarnation,
            stamp.rules,
            status,
            list(headers),
            body,
            entry,
            size,
        )
        self._store(ticket.key, answer)

    @staticmethod
    def _stamp_of(session: Any) -> tuple[int, int | None]:
        return session.store.version, session.incarnation

    def _store(self, key: Key, answer: Answer) -> None:
        answers = self._answers
        replaced = answers.pop(key, None)
        if replaced is not None:
            self.bytes -= replaced.size
        answers[key] = answer
        self.bytes += answer.size
        while len(answers) > self.max_answers or self.bytes > self.max_bytes:
            _, oldest = answers.popitem(last=False)
            self.bytes -= oldest.size
            self.dropped += 1

    def usage(self) -> dict[str, dict[str, int]]:
        """Its bounds and their use, and how it served (`/__admin/sessions`; with `--workers`, the
        answering worker's)."""
        return {
            "memo_answers": {
                "limit": self.max_answers,
                "used": len(self._answers),
                "dropped": self.dropped,
                "hits": self.hits,
                "misses": self.misses,
            },
            "memo_bytes": {"limit": self.max_bytes, "used": self.bytes},
        }


def install(app: Flask) -> AnswerMemo | None:
    """Build the memo for an app served by the RSGI front, and register it; None when there is none:
    turned off (`--memo-answers 0`), a proxy (its answers are the upstream's), or simulated latency,
    errors or faults (each request draws)."""
    settings: Settings = app.config["MOCKSERVER_SETTINGS"]
    simulated = settings.latency or settings.error_rate or settings.fault_rate
    if not settings.memo_answers or not settings.memo_bytes or settings.upstream is not None or simulated:
        return None
    log = logging.getLogger("mockserver.access") if settings.access_log else None
    sessions, journal = app.extensions[SESSIONS_EXTENSION], app.extensions[JOURNAL_EXTENSION]
    memo = AnswerMemo(sessions, journal, log, settings.memo_answers, settings.memo_bytes)
    app.extensions[MEMO_EXTENSION] = memo
    return memo


def get_memo(app: Flask) -> AnswerMemo | None:
    memo: AnswerMemo | None = app.extensions.get(MEMO_EXTENSION)
    return memo
