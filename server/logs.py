"""Structured logging (``LOG_FORMAT=json``), request ids and a redaction net.

``LOG_FORMAT``: ``text`` (default) or ``json``. In JSON mode every log record
is one JSON object on one line::

    {"time": "2025-01-01T12:00:00.123Z", "level": "INFO", "logger": "server.access",
     "message": "POST /getToken 200", "request_id": "...", "method": "POST",
     "route": "/getToken", "status": 200, "duration_ms": 1.23, "caller": "key:1a2b3c4d5e6f"}

Request fields come from the ``extra=`` of the access-log call. What is never
logged: API keys, JWTs, app certificates, tokens, query strings, request or
response bodies. As a safety net, :class:`RedactingFilter` masks any
configured secret and anything shaped like an Agora token or a bearer
credential that reaches a log message anyway.

``X-Request-ID``: a client-supplied id of 1..128 characters from
``[A-Za-z0-9._:@/+=-]`` is kept; anything else is replaced by a fresh random
id. The id is echoed in the ``X-Request-ID`` response header.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from typing import Any, Iterable, Mapping, Optional

from .policy import ConfigError, env_str

__all__ = [
    "JsonFormatter",
    "RedactingFilter",
    "CALLER_ID_KEY",
    "REQUEST_FIELDS",
    "REQUEST_ID_KEY",
    "apply_log_settings",
    "configure_logging",
    "request_log_fields",
    "new_request_id",
    "parse_log_format",
    "request_id_from",
]

REQUEST_ID_HEADER = "X-Request-ID"


def request_key(name: str, t: type) -> Any:
    """A typed ``web.RequestKey`` (aiohttp >= 3.13), else the plain name."""
    from aiohttp import web

    cls = getattr(web, "RequestKey", None)
    return cls(name, t) if cls is not None else name


#: request storage keys read by the access logger
REQUEST_ID_KEY = request_key("agora_token.request_id", str)
CALLER_ID_KEY = request_key("agora_token.caller_id", str)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
#: the ``extra=`` keys copied into JSON log lines (in this order)
REQUEST_FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms", "caller", "remote")


def parse_log_format(env: Mapping[str, str]) -> str:
    value = env_str(env, "LOG_FORMAT").lower() or "text"
    if value not in ("text", "json"):
        raise ConfigError("LOG_FORMAT", "must be text or json")
    return value


def new_request_id() -> str:
    return secrets.token_hex(16)


def request_id_from(headers: Mapping[str, str]) -> str:
    """The client's ``X-Request-ID`` when it is well-formed, else a new one."""
    value = headers.get(REQUEST_ID_HEADER)
    if value is not None and _REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def request_log_fields(request: Any) -> dict[str, Any]:
    """Extra access-log fields: request id, route template and caller id
    (``key:<fingerprint>`` / ``jwt:<sub>``; absent for anonymous callers)."""
    fields: dict[str, Any] = {}
    try:
        rid = request.get(REQUEST_ID_KEY)
        if rid is not None:
            fields["request_id"] = rid
        caller = request.get(CALLER_ID_KEY)
        if caller is not None:
            fields["caller"] = caller
        match_info = request.match_info
        resource = match_info.route.resource
        if resource is not None and getattr(match_info, "http_exception", None) is None:
            fields["route"] = resource.canonical
    except Exception:  # noqa: BLE001 - logging must never fail a request
        pass
    return fields


# --------------------------------------------------------------------------- redaction

# 007 + base64, or 006 + 32 hex app id + base64: long enough to never hit ordinary words
_TOKEN_SHAPE = re.compile(r"\b00[67][A-Za-z0-9+/]{24,}={0,2}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s,;\"']+")
_JWT_SHAPE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


class RedactingFilter(logging.Filter):
    """Masks configured secrets and token/JWT/bearer-shaped strings in the
    final message (a last line of defence; nothing should log them)."""

    def __init__(self, secrets_: Iterable[str] = ()) -> None:
        super().__init__()
        self.set_secrets(secrets_)

    def set_secrets(self, secrets_: Iterable[str]) -> None:
        # longest first so that a secret containing another is masked whole
        self._secrets = sorted({s for s in secrets_ if s and len(s) >= 8}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "[redacted]")
        if "00" in text:
            text = _TOKEN_SHAPE.sub("[redacted-token]", text)
        if "eyJ" in text:
            text = _JWT_SHAPE.sub("[redacted-jwt]", text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(r"\1[redacted]", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not kill logging
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        for key in ("path", "route"):  # structured fields that carry client text
            value = record.__dict__.get(key)
            if isinstance(value, str):
                record.__dict__[key] = self.redact(value)
        if record.exc_info and not record.exc_text:
            # render the traceback now so that it is redacted too
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


# --------------------------------------------------------------------------- formatting

class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        t = record.created
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in REQUEST_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


_installed: Optional[logging.Handler] = None
REDACTOR = RedactingFilter()


def configure_logging(fmt: str = "text", level: int = logging.INFO,
                      secrets_: Iterable[str] = (), stream: Any = None) -> logging.Handler:
    """Install one root handler (replacing the one this function installed
    before) in the given format, with the redaction filter attached."""
    global _installed
    REDACTOR.set_secrets(secrets_)
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    root.addHandler(handler)
    root.setLevel(level)
    _installed = handler
    return handler


def secrets_from_env(env: Mapping[str, str]) -> list[str]:
    """The secret values configured in ``env`` (to mask if they ever reach a log)."""
    out = []
    for name in ("APP_CERTIFICATE", "AUTH_JWT_SECRET", "METRICS_TOKEN"):
        value = (env.get(name) or "").strip()
        if value:
            out.append(value)
    out.extend(k.strip() for k in (env.get("AUTH_API_KEYS") or "").split(",") if k.strip())
    return out


def apply_log_settings(log_format: str, env: Mapping[str, str], *, api_keys: Iterable[str] = ()) -> None:
    """Switch the root logger's existing handlers to ``log_format`` and attach
    the redaction filter (secrets from ``env``). Installs a stderr handler
    first if there is none. Idempotent."""
    REDACTOR.set_secrets([*secrets_from_env(env), *api_keys])
    root = logging.getLogger()
    if not root.handlers:
        configure_logging(log_format, secrets_=REDACTOR._secrets)
        return
    for handler in root.handlers:
        if log_format == "json" and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
