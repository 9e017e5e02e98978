"""Logging: text or JSON lines on stderr (``LOG_FORMAT``), and a masking net
under every logger, aiohttp's own included.

:class:`SecretMasker` replaces every configured secret, whatever its source
(the app certificate, API keys from ``AUTH_API_KEYS`` or the keys file, the
JWT secret, ``METRICS_TOKEN``, a Redis password), and anything shaped like an
Agora token, a JWT or a bearer credential, with ``[redacted]``. It is applied
to every record by the one root handler (:func:`configure_logging`) and to
every access-log line (:mod:`server.accesslog`), whose buffered lines that
handler flushes first, so lines keep their order.

:class:`LogThrottle` caps repetitive client-caused lines (malformed
requests, aborted uploads) at a few per interval plus one summary line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable, Mapping, Optional

from .env import env_choice, env_flag

__all__ = [
    "JsonFormatter",
    "LogSettings",
    "LogThrottle",
    "MASKER",
    "SecretMasker",
    "configure_logging",
    "parse_log_settings",
]

REDACTED = "[redacted]"
#: secrets shorter than this are not masked (they would mask ordinary words)
MIN_MASKED_LENGTH = 8
#: up to this many secrets are searched one by one; more use a prefix index
_LINEAR_SECRETS = 32

# 007 + base64, or 006 + 32 hex app id + base64: long enough to never hit ordinary words
_TOKEN_SHAPE = re.compile(r"00[67][A-Za-z0-9+/]{24,}={0,2}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s,;\"']+")
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class LogSettings:
    format: str = "text"  # LOG_FORMAT: text | json
    access_log: bool = True  # ACCESS_LOG: one line per request


#: the variables :func:`parse_log_settings` reads
VARIABLES = ("LOG_FORMAT", "ACCESS_LOG")


def parse_log_settings(env: Mapping[str, str]) -> LogSettings:
    return LogSettings(env_choice(env, "LOG_FORMAT", ("text", "json"), "text"),
                       env_flag(env, "ACCESS_LOG", True))


class SecretMasker:
    """Masks configured secrets and token/JWT/bearer-shaped text."""

    def __init__(self, secrets_: Iterable[str] = ()) -> None:
        self._linear: list[str] = []
        self._index: dict[str, list[str]] = {}
        self.set_secrets(secrets_)

    def set_secrets(self, secrets_: Iterable[str]) -> None:
        # longest first, so that a secret containing another is masked whole
        ordered = sorted({s for s in secrets_ if s and len(s) >= MIN_MASKED_LENGTH}, key=len, reverse=True)
        self._linear, self._index = [], {}
        if len(ordered) <= _LINEAR_SECRETS:
            self._linear = ordered
        else:
            for s in ordered:
                self._index.setdefault(s[:MIN_MASKED_LENGTH], []).append(s)

    def _mask_indexed(self, text: str) -> str:
        index = self._index
        n = MIN_MASKED_LENGTH
        i, out, last = 0, [], 0
        end = len(text) - n
        while i <= end:
            candidates = index.get(text[i:i + n])
            if candidates is not None:
                for s in candidates:
                    if text.startswith(s, i):
                        out.append(text[last:i])
                        out.append(REDACTED)
                        i += len(s)
                        last = i
                        break
                else:
                    i += 1
            else:
                i += 1
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

    def mask(self, text: str) -> str:
        for s in self._linear:
            if s in text:
                text = text.replace(s, REDACTED)
        if self._index and len(text) >= MIN_MASKED_LENGTH:
            text = self._mask_indexed(text)
        if "00" in text:
            text = _TOKEN_SHAPE.sub("[redacted-token]", text)
        if "eyJ" in text:
            text = _JWT_SHAPE.sub("[redacted-jwt]", text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(r"\1[redacted]", text)
        return text


#: the process's masker (secrets are set once at start-up by configure_logging)
MASKER = SecretMasker()


class MaskingFilter(logging.Filter):
    """Applies :data:`MASKER` to a record's final message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not kill logging
            return True
        clean = MASKER.mask(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = MASKER.mask(record.exc_text)
        return True


def utc_stamp(t: float) -> str:
    """``2025-01-01T12:00:00.123Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": utc_stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ServiceHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler: masks every record and writes buffered access-log
    lines first, so that the output keeps its order."""

    def __init__(self, stream: IO[str], before_emit: Optional[Callable[[], None]] = None) -> None:
        super().__init__(stream)
        self.before_emit = before_emit
        self.addFilter(MaskingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if self.before_emit is not None:
            self.before_emit()
        super().emit(record)


def configure_logging(fmt: str = "text", secrets_: Iterable[str] = (), *, stream: Optional[IO[str]] = None,
                      before_emit: Optional[Callable[[], None]] = None,
                      level: int = logging.INFO) -> ServiceHandler:
    """Install the one root handler (replacing one installed before) with the
    masking filter and the format; aiohttp's loggers propagate to it."""
    MASKER.set_secrets(secrets_)
    handler = ServiceHandler(stream or sys.stderr, before_emit)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, ServiceHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


class LogThrottle:
    """At most ``limit`` lines per ``interval`` seconds; the rest are counted
    and reported by the next line allowed through."""

    def __init__(self, limit: int = 5, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self._window = -1.0
        self._count = 0
        self.suppressed = 0

    def allow(self) -> Optional[int]:
        """None to drop this line; else the number of lines dropped since the
        last one allowed (0 usually)."""
        now = self.clock()
        if now - self._window >= self.interval:
            self._window, self._count = now, 0
        if self._count >= self.limit:
            self.suppressed += 1
            return None
        self._count += 1
        dropped, self.suppressed = self.suppressed, 0
        return dropped
