"""The access log: one line per request, cheap on the hot path.

A line is formatted with one f-string and appended to a buffer; the buffer is
written with one ``write`` at most every 50 ms (system calls are the costly
part), before any other log record (by the root handler, so the output keeps
its order) and at shutdown (so nothing is lost on SIGTERM). No
``logging.LogRecord`` per request.

Text::

    2025-01-01 12:00:00,123 INFO server.access: GET /rtm/42/?expiry 200 0.41ms id=... remote=10.0.0.7 caller=jwt:42

JSON (``LOG_FORMAT=json``) has the same fields as keys: ``time``, ``level``,
``logger``, ``message``, ``request_id``, ``method``, ``route`` (the template),
``path``, ``status``, ``duration_ms``, ``caller`` (absent when anonymous) and
``remote`` (the client address; with ``TRUST_PROXY``, the one the trusted
proxy saw), and ``trace_id`` when an OpenTelemetry span is active
(:mod:`server.tracing`; ``trace=`` in text).

Every line goes through :data:`server.logs.MASKER` (configured secrets and
token-shaped text masked) before it is written. The path is the raw
(percent-encoded) path, cut at 256 characters; of the query string only the
names the API defines are shown (``?expiry``), any other parameter as ``_``,
because a client may put anything, a key included, in a query.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import weakref
from typing import IO, Any, Optional

from .logs import MASKER, utc_stamp

__all__ = ["ACCESS_LOGGER_NAME", "AccessLog", "BufferedLog", "flush_all", "loggable_path"]

ACCESS_LOGGER_NAME = "server.access"
MAX_LOGGED_PATH = 256
FLUSH_DELAY = 0.05
MAX_BUFFERED_LINES = 1000
#: query parameters the API defines (shown by name in the access log)
KNOWN_QUERY_KEYS = frozenset({"expiry"})
_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f-\uffff]*')

_live: "weakref.WeakSet[AccessLog]" = weakref.WeakSet()


def loggable_path(raw_path: str, raw_query: str) -> str:
    """The path as logged. Secrets are masked over whole lines when they are
    written; a path cut here is masked first, so no part of a secret survives."""
    path = raw_path
    if len(path) > MAX_LOGGED_PATH:
        path = MASKER.mask(path)[:MAX_LOGGED_PATH] + "..."
    if raw_query:
        names = [part.split("=", 1)[0] for part in raw_query.split("&", 16)[:16] if part]
        path += "?" + "&".join(n if n in KNOWN_QUERY_KEYS else "_" for n in names)
    return path


def _js(text: str) -> str:
    """A JSON string literal (fast for the usual plain ASCII)."""
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


class BufferedLog:
    """Records buffered in one process and written in batches: the first
    record arms a timer (:data:`FLUSH_DELAY`), :data:`MAX_BUFFERED_LINES`
    records or :meth:`flush` write them at once; without an event loop each
    record is written at once. Subclasses write with :meth:`write`. Used by
    the access log and the audit trail (:mod:`server.audit`)."""

    def __init__(self, registry: "weakref.WeakSet[Any]") -> None:
        self._records: list[tuple[Any, ...]] = []
        self._timer: Optional[asyncio.TimerHandle] = None
        registry.add(self)

    def add(self, record: tuple[Any, ...]) -> None:
        records = self._records
        records.append(record)
        if self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)
            except RuntimeError:  # no loop: write now
                self.flush()
        elif len(records) >= MAX_BUFFERED_LINES:
            self.flush()

    def take(self) -> list[tuple[Any, ...]]:
        """The buffered records, emptied (and the timer disarmed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        records, self._records = self._records, []
        return records

    def flush(self) -> None:
        records = self.take()
        if records:
            self.write(records)

    def write(self, records: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError


class AccessLog(BufferedLog):
    """Buffered access-log lines for one process (see the module docstring).
    :meth:`record` keeps the raw values; :meth:`flush` formats and writes."""

    def __init__(self, fmt: str = "text", stream: Optional[IO[str]] = None) -> None:
        super().__init__(_live)
        self.json = fmt == "json"
        self.stream = stream

    def record(self, method: str, raw_path: str, raw_query: str, status: int, seconds: float,
               request_id: str, route: Optional[str], caller: Optional[str], remote: Optional[str],
               trace_id: Optional[str] = None) -> None:
        self.add((time.time(), method, raw_path, raw_query, status, seconds, request_id, route, caller, remote,
                  trace_id))

    def format(self, records: list[tuple[Any, ...]]) -> str:
        if self.json:
            return "".join([self._json_line(*r) for r in records])
        lines = []
        second, stamp = -1, ""
        for now, method, raw_path, raw_query, status, seconds, rid, _route, caller, remote, trace in records:
            path = loggable_path(raw_path, raw_query)
            if int(now) != second:
                second = int(now)
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            extra = f" remote={remote}" if remote else ""
            if caller:
                extra += f" caller={caller}"
            if trace:
                extra += f" trace={trace}"
            lines.append("%s,%03d INFO server.access: %s %s %d %.2fms id=%s%s\n"
                         % (stamp, now % 1 * 1000, method, path, status, seconds * 1000.0, rid, extra))
        return "".join(lines)

    @staticmethod
    def _json_line(now: float, method: str, raw_path: str, raw_query: str, status: int, seconds: float, rid: str,
                   route: Optional[str], caller: Optional[str], remote: Optional[str],
                   trace_id: Optional[str]) -> str:
        path = loggable_path(raw_path, raw_query)
        ms = seconds * 1000.0
        return (f'{{"time":"{utc_stamp(now)}","level":"INFO","logger":"{ACCESS_LOGGER_NAME}",'
                f'"message":{_js(f"{method} {path} {status} {ms:.2f}ms")},'
                f'"request_id":{_js(rid)},"method":{_js(method)},'
                + (f'"route":{_js(route)},' if route else "")
                + f'"path":{_js(path)},"status":{status},"duration_ms":{ms:.3f}'
                + (f',"caller":{_js(caller)}' if caller else "")
                + (f',"remote":{_js(remote)}' if remote else "")
                + (f',"trace_id":"{trace_id}"' if trace_id else "")
                + "}\n")

    def write(self, records: list[tuple[Any, ...]]) -> None:
        data = MASKER.mask(self.format(records))
        stream = self.stream or sys.stderr
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError):  # stderr closed: nothing else to do
            pass


def flush_all() -> None:
    """Write every buffered access-log line (before other log output, at exit)."""
    for log in list(_live):
        log.flush()
