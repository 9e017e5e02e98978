"""The audit trail: who got which token, and who was refused one.

``AUDIT_LOG`` = ``off`` (default) | ``stderr`` | a file path. One JSON line
per token issued (``/rte`` issues two: two lines with one ``request_id``)
and one per token request refused by authentication (401), the rate limit
(429), the caller's JWT claims (403) or the policy (400: ``MAX_EXPIRE``,
``CHANNEL_PATTERN``)::

    {"time":"2026-12-02T10:00:00.123Z","event":"token.issued","request_id":"...","caller":"key:1a2b3c4d5e6f",
     "client":"10.0.0.7","route":"/getToken","expire":3600,"expires_at":"2026-12-02T11:00:00Z",
     "services":[{"kind":"rtc","channel":"lobby","uid":"42",
                  "privileges":{"joinChannel":"2026-12-02T11:00:00Z","publishAudioStream":null}}]}
    {"time":"...","event":"token.denied","request_id":"...","caller":null,"client":"10.0.0.9",
     "route":"/getToken","status":401,"reason":"invalid_api_key"}

(one line each; ``"logger":"server.audit"`` and ``"level":"INFO"`` after
``time`` on stderr; ``trace_id`` after ``request_id`` while tracing is on,
:mod:`server.tracing`). The services are the library's description of the
token as issued (:func:`agora_token.describe_token`), with its field names
shortened: ``channel``, ``uid`` (RTC; ``"0"`` any user), ``account``
(Streaming, FCDN), ``user`` (RTM, RTM2, Chat, APaaS), ``room`` and ``role``
(APaaS), ``permissions`` (RTM2); a privilege maps to its expiry, or null
when it has no limit of its own (the token's ``expires_at`` applies).
Never the token, a key, a JWT, the certificate or a request body; every line
goes through :data:`server.logs.MASKER` too. ``caller`` is the access log's
caller id (``key:<fingerprint>``, ``jwt:<sub>``; null when anonymous or not
authenticated); ``client`` the address as resolved under ``TRUST_PROXY``.

Lines are kept in memory and written off the request path, as the access
log's (:class:`server.accesslog.BufferedLog`: one write at most every 50 ms)
and at shutdown (:func:`stop`, :func:`flush_all`). A file is opened with ``O_APPEND``
(workers share it; each write holds whole lines) and checked at each write:
when its path names another file (device and inode) or none, as after
logrotate moved it (no ``copytruncate`` needed, no signal), it is reopened
(created ``0640``). A failed write (a full disk, a read-only file) keeps its
lines for the next attempt (every second, up to :data:`MAX_PENDING_BYTES`;
beyond that the newest lines are dropped), counts in ``/metrics``
(``agora_token_audit_write_errors_total``,
``agora_token_audit_lines_dropped_total``) and is logged once per
:data:`FAILURE_LOG_INTERVAL`. A line started before a failure is finished in
the same file before any reopen, so no line is split.

Denials of unauthenticated callers (401) and rate-limited ones (429) are
throttled per client address (:data:`DENIED_PER_CLIENT` lines per
:data:`DENIED_INTERVAL`): the next line let through for that client carries
``"suppressed": N``, the lines left out since the last one; counts nobody
reported are written as ``{"event":"token.denied.suppressed","client":...,
"suppressed":N}`` with the first audit line written after the client's
window is over, and at shutdown.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sys
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

from agora_token.description import describe_token, iso

from . import metrics, tracing
from .accesslog import BufferedLog
from .env import ConfigError, env_str
from .logs import MASKER, LogThrottle, utc_stamp

if TYPE_CHECKING:
    from .state import RequestContext

__all__ = ["AUDIT_LOGGER_NAME", "AuditSettings", "AuditTrail", "TRAIL", "denied", "flush_all", "issued",
           "parse_audit_settings", "start", "stop"]

log = logging.getLogger("server")

AUDIT_LOGGER_NAME = "server.audit"
ISSUED = "token.issued"
DENIED = "token.denied"
SUPPRESSED = "token.denied.suppressed"
#: denials throttled per client address: unauthenticated, rate limited
THROTTLED_STATUSES = frozenset({401, 429})
DENIED_PER_CLIENT = 10
DENIED_INTERVAL = 60.0
#: clients tracked by the throttle; beyond, new clients share one budget
MAX_THROTTLED_CLIENTS = 10_000
SHARED_BUDGET = "*"
#: bytes kept for another attempt after a failed write
MAX_PENDING_BYTES = 4 << 20
RETRY_DELAY = 1.0
FAILURE_LOG_INTERVAL = 60.0
FILE_MODE = 0o640
#: the description's JSON field names -> the audit line's
_FIELD_NAMES = {"userId": "user", "userUuid": "user", "roomUuid": "room"}

_live: "weakref.WeakSet[AuditTrail]" = weakref.WeakSet()


@dataclass(frozen=True)
class AuditSettings:
    """``destination``: None (off), ``"stderr"``, or an absolute file path."""

    destination: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.destination is not None


#: the variables :func:`parse_audit_settings` reads
VARIABLES = ("AUDIT_LOG",)


def parse_audit_settings(env: Mapping[str, str]) -> AuditSettings:
    raw = env_str(env, "AUDIT_LOG")
    if not raw or raw.lower() == "off":
        return AuditSettings()
    if raw.lower() == "stderr":
        return AuditSettings("stderr")
    path = os.path.abspath(raw)
    if os.path.isdir(path):
        raise ConfigError("AUDIT_LOG", "names a directory: give off, stderr or a file path")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise ConfigError("AUDIT_LOG", f"names a file in a directory that does not exist ({folder})")
    if not os.access(path if os.path.exists(path) else folder, os.W_OK):
        raise ConfigError("AUDIT_LOG", f"names a file this process cannot write ({path})")
    return AuditSettings(path)


def _services(token: str) -> tuple[Optional[int], Optional[str], list[dict[str, Any]]]:
    """(expire, expires_at, services) of ``token``, from the library's describer."""
    desc = describe_token(token)
    services = []
    for svc in desc.services:
        entry: dict[str, Any] = {"kind": svc.name}
        for name, value in svc.json_fields().items():
            if value == "" or name == "role" and value == -1:  # an app-level token: no user, room or role
                continue
            entry[_FIELD_NAMES.get(name, name)] = value
        entry["privileges"] = {p.label: iso(p.expires_at) for p in svc.privileges}
        services.append(entry)
    return desc.expire, iso(desc.expires_at), services


class AuditTrail(BufferedLog):
    """The audit lines of one process (see the module docstring).
    :meth:`issued` and :meth:`denied` keep the raw values; formatting and
    writing happen in :meth:`flush`, off the request path."""

    def __init__(self, destination: str, *, stream: Optional[IO[str]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(_live)
        self.path = None if destination == "stderr" else destination
        self.stream = stream
        self.clock = clock
        self._fd: Optional[int] = None
        self._file_id: tuple[int, int] = (-1, -1)
        #: encoded lines not written yet (after a failed write)
        self._pending = bytearray()
        #: the first pending line was partly written to the open file
        self._mid_line = False
        self._retry: Any = None
        self._failures = LogThrottle(limit=1, interval=FAILURE_LOG_INTERVAL, clock=clock)
        #: client -> (its throttle, when it was last seen)
        self._throttles: dict[str, tuple[LogThrottle, float]] = {}
        self._swept_at = clock()

    # ------------------------------------------------------------ the API of the request path

    def issued(self, ctx: Optional["RequestContext"], tokens: Iterable[str], client: Optional[str] = None) -> None:
        """One ``token.issued`` line per token in ``tokens`` (as signed), all
        with the request's id. Only the token's description is written."""
        head = self._head(ctx, client)
        for token in tokens:
            self.add((ISSUED, *head, token))

    def denied(self, ctx: Optional["RequestContext"], status: int, reason: str,
               client: Optional[str] = None) -> None:
        """One ``token.denied`` line (401s and 429s throttled per client)."""
        head = self._head(ctx, client)
        suppressed = 0
        if status in THROTTLED_STATUSES:
            allowed = self._allow(head[5] or "unknown")
            if allowed is None:
                return
            suppressed = allowed
        self.add((DENIED, *head, status, reason, suppressed))

    @staticmethod
    def _head(ctx: Optional["RequestContext"], client: Optional[str]) -> tuple[Any, ...]:
        """(time, request id, trace id, caller id, route, client) of the request."""
        if ctx is None:
            return (time.time(), None, tracing.current_trace_id(), None, None, client)
        caller = ctx.caller
        route = ctx.route
        return (time.time(), ctx.request_id, tracing.current_trace_id(),
                caller.id if caller is not None and caller.kind != "anonymous" else None,
                route.template if route is not None else None, client if client is not None else ctx.remote)

    # ------------------------------------------------------------ the per-client throttle

    def _allow(self, client: str) -> Optional[int]:
        now = self.clock()
        throttles = self._throttles
        entry = throttles.get(client)
        if entry is None:
            if len(throttles) >= MAX_THROTTLED_CLIENTS:
                self._sweep(now)
            if len(throttles) >= MAX_THROTTLED_CLIENTS:
                client = SHARED_BUDGET
                entry = throttles.get(client)
            if entry is None:
                entry = (LogThrottle(DENIED_PER_CLIENT, DENIED_INTERVAL, self.clock), now)
        throttles[client] = (entry[0], now)
        allowed = entry[0].allow()
        if now - self._swept_at >= DENIED_INTERVAL:  # this client was just seen: it stays
            self._sweep(now)
        return allowed

    def _sweep(self, now: float, everything: bool = False) -> None:
        """Forget clients not seen for a whole window, writing the counts of
        lines left out that no later line of theirs reported."""
        self._swept_at = now
        for client, (throttle, seen) in list(self._throttles.items()):
            if everything or now - seen >= DENIED_INTERVAL:
                del self._throttles[client]
                if throttle.suppressed:
                    self.add((SUPPRESSED, time.time(), client, throttle.suppressed))

    # ------------------------------------------------------------ formatting

    def format(self, records: list[tuple[Any, ...]]) -> str:
        on_stderr = self.path is None
        lines = []
        for record in records:
            try:
                line = self._line(record, on_stderr)
            except Exception:  # noqa: BLE001 - a record that cannot be described: say so, keep the rest
                log.exception("audit: cannot format a %s record", record[0])
                continue
            lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        return MASKER.mask("".join(lines))

    @staticmethod
    def _line(record: tuple[Any, ...], on_stderr: bool) -> dict[str, Any]:
        event, now = record[0], record[1]
        out: dict[str, Any] = {"time": utc_stamp(now)}
        if on_stderr:
            out["level"] = "INFO"
            out["logger"] = AUDIT_LOGGER_NAME
        out["event"] = event
        if event == SUPPRESSED:
            out["client"], out["suppressed"] = record[2], record[3]
            return out
        _, _, rid, trace_id, caller, route, client = record[:7]
        out["request_id"] = rid
        if trace_id is not None:
            out["trace_id"] = trace_id
        out.update(caller=caller, client=client, route=route)
        if event == ISSUED:
            out["expire"], out["expires_at"], out["services"] = _services(record[7])
        else:
            out["status"], out["reason"] = record[7], record[8]
            if record[9]:
                out["suppressed"] = record[9]
        return out

    # ------------------------------------------------------------ writing

    def flush(self) -> None:
        if self._throttles and self.clock() - self._swept_at >= DENIED_INTERVAL:
            self._sweep(self.clock())
        records = self.take()
        if records:
            self.write(records)
        elif self._pending:
            self._write_pending()

    def write(self, records: list[tuple[Any, ...]]) -> None:
        data = self.format(records)
        if self.path is None:
            self._write_stream(data, len(records))
            return
        encoded = data.encode("utf-8")
        if len(self._pending) + len(encoded) > MAX_PENDING_BYTES:
            lines = encoded.count(b"\n")
            metrics.LOCAL.audit_lines_dropped += lines
            self._failed(f"{lines} lines dropped: the retry buffer is full", None)
        else:
            self._pending += encoded
        self._write_pending()

    def _write_stream(self, data: str, lines: int) -> None:
        stream = self.stream or sys.stderr
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError) as exc:
            metrics.LOCAL.audit_write_errors += 1
            metrics.LOCAL.audit_lines_dropped += lines
            self._failed(f"{lines} lines lost", exc)

    def _write_pending(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        pending = self._pending
        try:
            if not self._mid_line:
                self._reopen_if_moved()
            while pending:
                n = os.write(self._fd, pending)  # type: ignore[arg-type]  # open: _reopen_if_moved raised otherwise
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                self._mid_line = pending[n - 1] != 0x0A
                del pending[:n]
        except OSError as exc:
            metrics.LOCAL.audit_write_errors += 1
            lines = pending.count(b"\n")
            self._failed(f"{lines} lines kept for another attempt", exc)
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        try:
            self._retry = asyncio.get_running_loop().call_later(RETRY_DELAY, self.flush)
        except RuntimeError:  # no loop: the next record or flush retries
            self._retry = None

    def _reopen_if_moved(self) -> None:
        """Open the file, or reopen it when its path now names another file
        or none (rotated); keeps the open one if the path cannot be opened
        (raises :class:`OSError` when none is open)."""
        path = self.path
        assert path is not None
        try:
            st = os.stat(path)
            if self._fd is not None and (st.st_dev, st.st_ino) == self._file_id:
                return
        except OSError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        except OSError as exc:
            if self._fd is None:
                raise  # the write fails: counted and retried
            self._failed("cannot reopen it after a rotation: writing to the file it was", exc)
            return
        st = os.fstat(fd)
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._file_id = fd, (st.st_dev, st.st_ino)

    def _failed(self, what: str, exc: Optional[BaseException]) -> None:
        dropped = self._failures.allow()
        if dropped is not None:
            cause = f" ({exc.strerror or type(exc).__name__})" if isinstance(exc, OSError) else (
                f" ({type(exc).__name__})" if exc is not None else "")
            log.error("audit log %s: write failed%s: %s%s", self.path or "stderr", cause, what,
                      f"; {dropped} more failures not logged" if dropped else "")

    def close(self) -> None:
        """Write what is left (the throttle's counts included) and close the file."""
        self._sweep(self.clock(), everything=True)
        self.flush()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


#: the audit trail of this process, or None (``AUDIT_LOG=off``)
TRAIL: Optional[AuditTrail] = None


def start(settings: AuditSettings) -> Optional[AuditTrail]:
    """Open this process's trail (closing one opened before): in each worker."""
    global TRAIL
    stop()
    if settings.destination is not None:
        TRAIL = AuditTrail(settings.destination)
    return TRAIL


def stop() -> None:
    """Write what is left and close this process's trail."""
    global TRAIL
    trail, TRAIL = TRAIL, None
    if trail is not None:
        trail.close()


def issued(ctx: Optional["RequestContext"], tokens: Iterable[str]) -> None:
    """:meth:`AuditTrail.issued` on this process's trail, if any."""
    trail = TRAIL
    if trail is not None:
        trail.issued(ctx, tokens)


def denied(ctx: Optional["RequestContext"], status: int, reason: str) -> None:
    """:meth:`AuditTrail.denied` on this process's trail, if any."""
    trail = TRAIL
    if trail is not None:
        trail.denied(ctx, status, reason)


def flush_all() -> None:
    """Write every buffered audit line now (safe at any time, as the access
    log's; :func:`stop` also writes the throttle's pending counts)."""
    for trail in list(_live):
        trail.flush()
