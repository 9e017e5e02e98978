"""Service configuration: environment variables and an optional ``.env`` file.

Real environment variables win over ``.env``. Every setting is validated once,
at start-up; request handlers never re-validate credentials.

==================  =========================================================
variable            meaning (default)
==================  =========================================================
APP_ID              Agora app id, 32 hex digits (required)
APP_CERTIFICATE     Agora app certificate, 32 hex digits (required, secret)
SERVER_PORT         listening port (else PORT, as set by PaaS hosts, else 8080)
HOST                listening address (0.0.0.0)
CORS_ALLOW_ORIGIN   ``*`` or comma-separated exact origins (empty: none)
==================  =========================================================

Extending: add a field with a default to :class:`Settings` and fill it in
:func:`load_settings` (``env`` holds the merged environment, so a feature
module can also parse its own variables from ``settings.env``). Raise
:class:`ConfigError` for a bad value; its message names the variable and must
never contain a secret. ``python -m server`` turns it into one line on stderr
and exit code 2.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping, MutableMapping, Optional, Tuple

from .policy import ConfigError  # one ConfigError class for every settings module
from .auth import AuthSettings, parse_auth_settings
from .logs import parse_log_format
from .policy import PolicySettings, parse_policy_settings
from .ratelimit import RateLimitSettings, parse_ratelimit_settings

__all__ = ["ConfigError", "Settings", "load_settings", "DEFAULT_PORT", "DEFAULT_MAX_BODY_BYTES"]

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"
#: request bodies larger than this are refused with 413 (a token request is < 1 KiB)
DEFAULT_MAX_BODY_BYTES = 4096

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class Settings:
    """Validated settings. ``app_certificate`` is never shown by ``repr``."""

    app_id: str
    app_certificate: str = field(repr=False)
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    #: CORS: ``*`` anywhere in CORS_ALLOW_ORIGIN allows every origin
    cors_allow_all: bool = False
    #: CORS: the exact allowed origins (when not ``cors_allow_all``)
    cors_origins: Tuple[str, ...] = ()
    #: running with throw-away credentials (``--demo``)
    demo: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: the merged environment (.env overlaid by the real environment), for
    #: feature modules that parse their own variables
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # --- other features add their fields below (with defaults) ---
    #: caller authentication (AUTH_*), see server/auth.py
    auth: AuthSettings = field(default_factory=AuthSettings)
    #: MAX_EXPIRE / CHANNEL_PATTERN, see server/policy.py
    policy: PolicySettings = field(default_factory=PolicySettings)
    #: RATE_LIMIT / TRUST_PROXY, see server/ratelimit.py
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    #: LOG_FORMAT: "text" or "json"
    log_format: str = "text"


def _get(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    return value.strip() if value else ""


def _credential(env: Mapping[str, str], name: str, secret: bool) -> str:
    value = _get(env, name)
    if not value:
        raise ConfigError(name, "is not set; set it in the environment or in .env "
                                "(32 hexadecimal digits from the Agora console)")
    if _HEX32.fullmatch(value) is None:
        if secret:  # never echo any part of the certificate
            raise ConfigError(name, f"is malformed: expected 32 hexadecimal digits, got {len(value)} characters")
        shown = value if len(value) <= 64 and value.isprintable() else f"{len(value)} characters"
        raise ConfigError(name, f"is malformed: expected 32 hexadecimal digits, got {shown!r}")
    return value


def _port(env: Mapping[str, str]) -> int:
    for name in ("SERVER_PORT", "PORT"):
        raw = _get(env, name)
        if raw:
            if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= 65535:
                raise ConfigError(name, f"must be a port number in 0..65535, got {raw[:32]!r}")
            return int(raw)
    return DEFAULT_PORT


def _cors(env: Mapping[str, str]) -> tuple[bool, tuple[str, ...]]:
    raw = _get(env, "CORS_ALLOW_ORIGIN")
    origins = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if part == "*":
            return True, ()
        # an Origin header never ends with "/" ("https://a.example")
        origins.append(part.rstrip("/"))
    return False, tuple(dict.fromkeys(origins))


def read_environment(environ: Optional[Mapping[str, str]] = None,
                     dotenv_path: Optional[str] = ".env") -> dict[str, str]:
    """``.env`` values (if the file exists) overlaid by ``environ``
    (``os.environ`` when None)."""
    merged: MutableMapping[str, str] = {}
    if dotenv_path and os.path.isfile(dotenv_path):
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return dict(merged)


def load_settings(environ: Optional[Mapping[str, str]] = None,
                  dotenv_path: Optional[str] = ".env") -> Settings:
    """Read and validate the settings; raise :class:`ConfigError` (one line,
    naming the variable, never a secret value) when something is wrong."""
    env = read_environment(environ, dotenv_path)
    app_id = _credential(env, "APP_ID", secret=False)
    cert = _credential(env, "APP_CERTIFICATE", secret=True)
    allow_all, origins = _cors(env)
    host = _get(env, "HOST") or DEFAULT_HOST
    return Settings(
        app_id=app_id,
        app_certificate=cert,
        port=_port(env),
        host=host,
        cors_allow_all=allow_all,
        cors_origins=origins,
        env=env,
        auth=parse_auth_settings(env),
        policy=parse_policy_settings(env),
        rate_limit=parse_ratelimit_settings(env),
        log_format=parse_log_format(env),
    )
