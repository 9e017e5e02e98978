"""The service's settings: read once at start-up from the environment and an
optional ``.env`` file (real environment variables win), validated, and kept
in one frozen :class:`Settings`. Each feature parses its own variables in its
own module, which declares them next to its parser (``VARIABLES``); this
module puts the settings together, and :data:`VARIABLES` is the union of
those declarations (the docs and the tests check against it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, MutableMapping, Optional

from dotenv import dotenv_values

from agora_token import is_app_certificate, is_app_id

from . import audit, auth, connections, jwtauth, logs, metrics, overload, policy, ratelimit, tracing
from .audit import AuditSettings, parse_audit_settings
from .auth import AuthSettings, parse_auth_settings
from .connections import ConnectionSettings, parse_connection_settings
from .env import ConfigError, env_int, env_str
from .logs import LogSettings, parse_log_settings
from .metrics import MetricsSettings, parse_metrics_settings
from .overload import OverloadSettings, parse_overload_settings
from .policy import PolicySettings, parse_policy_settings
from .ratelimit import RateLimitSettings, parse_ratelimit_settings
from .tracing import TracingSettings, parse_tracing_settings

__all__ = ["ConfigError", "DEFAULT_PORT", "Settings", "VARIABLES", "load_settings", "read_environment"]

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"
#: request bodies larger than this are refused with 413 (a token request is < 1 KiB)
MAX_BODY_BYTES = 4096

#: the variables this module reads itself (the credentials, where to listen, CORS)
OWN_VARIABLES = ("APP_ID", "APP_CERTIFICATE", "SERVER_PORT", "PORT", "HOST", "CORS_ALLOW_ORIGIN")
#: every environment variable the service reads: each settings module declares its own
VARIABLES = (*OWN_VARIABLES, *auth.VARIABLES, *jwtauth.VARIABLES, *policy.VARIABLES, *ratelimit.VARIABLES,
             *logs.VARIABLES, *audit.VARIABLES, *tracing.VARIABLES, *metrics.VARIABLES, *connections.VARIABLES,
             *overload.VARIABLES)



@dataclass(frozen=True)
class Settings:
    """Validated settings. Secrets are never shown by ``repr``."""

    app_id: str
    app_certificate: str = field(repr=False)
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    #: CORS: ``*`` anywhere in CORS_ALLOW_ORIGIN allows every origin
    cors_allow_all: bool = False
    #: CORS: the exact allowed origins (when not ``cors_allow_all``)
    cors_origins: tuple[str, ...] = ()
    #: running with throw-away credentials (``--demo``)
    demo: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    auth: AuthSettings = field(default_factory=AuthSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    logs: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    connections: ConnectionSettings = field(default_factory=ConnectionSettings)
    overload: OverloadSettings = field(default_factory=OverloadSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    tracing: TracingSettings = field(default_factory=TracingSettings)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value, whatever its source (masked in logs)."""
        return (self.app_certificate, *self.auth.secrets, *self.metrics.secrets,
                *self.rate_limit.secrets)


def _credential(env: Mapping[str, str], name: str, secret: bool) -> str:
    value = env_str(env, name)
    if not value:
        raise ConfigError(name, "is not set; set it in the environment or in .env "
                                "(32 hexadecimal digits from the Agora console)")
    if not (is_app_certificate(value) if secret else is_app_id(value)):  # the library's checks
        if secret:  # never echo any part of the certificate
            raise ConfigError(name, f"is malformed: expected 32 hexadecimal digits, got {len(value)} characters")
        shown = value if len(value) <= 64 and value.isprintable() else f"{len(value)} characters"
        raise ConfigError(name, f"is malformed: expected 32 hexadecimal digits, got {shown!r}")
    return value


def _port(env: Mapping[str, str]) -> int:
    for name in ("SERVER_PORT", "PORT"):
        if env_str(env, name):
            return env_int(env, name, DEFAULT_PORT, 0, 65535)
    return DEFAULT_PORT


def _cors(env: Mapping[str, str]) -> tuple[bool, tuple[str, ...]]:
    origins = []
    for part in env_str(env, "CORS_ALLOW_ORIGIN").split(","):
        part = part.strip()
        if not part:
            continue
        if part == "*":
            return True, ()
        origins.append(part.rstrip("/"))  # an Origin header never ends with "/"
    return False, tuple(dict.fromkeys(origins))


def read_environment(environ: Optional[Mapping[str, str]] = None,
                     dotenv_path: Optional[str] = ".env") -> dict[str, str]:
    """``.env`` values (if the file exists) overlaid by ``environ``
    (``os.environ`` when None)."""
    merged: MutableMapping[str, str] = {}
    if dotenv_path and os.path.isfile(dotenv_path):
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return dict(merged)


def load_settings(environ: Optional[Mapping[str, str]] = None,
                  dotenv_path: Optional[str] = ".env") -> Settings:
    """Read and validate the settings; raise :class:`ConfigError` (one line,
    naming the variable, never a secret value) when something is wrong."""
    env = read_environment(environ, dotenv_path)
    allow_all, origins = _cors(env)
    return Settings(
        app_id=_credential(env, "APP_ID", secret=False),
        app_certificate=_credential(env, "APP_CERTIFICATE", secret=True),
        port=_port(env),
        host=env_str(env, "HOST") or DEFAULT_HOST,
        cors_allow_all=allow_all,
        cors_origins=origins,
        auth=parse_auth_settings(env),
        policy=parse_policy_settings(env),
        rate_limit=parse_ratelimit_settings(env),
        logs=parse_log_settings(env),
        metrics=parse_metrics_settings(env),
        connections=parse_connection_settings(env),
        overload=parse_overload_settings(env),
        audit=parse_audit_settings(env),
        tracing=parse_tracing_settings(env),
    )
