"""What the service declares once: every settings module declares the
variables its parser reads, ``config.VARIABLES`` is their union and holds
every variable any parser reads; and no module hides a dependency in a
function-level import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import pytest

from agora_token_server import (
    audit,
    auth,
    config,
    connections,
    jwtauth,
    logs,
    metrics,
    overload,
    policy,
    ratelimit,
    testing,
    tracing,
)
from tests.support.service import CREDENTIALS

SERVER = Path(__file__).resolve().parents[2] / "server"
MODULES = (auth, jwtauth, policy, ratelimit, logs, audit, tracing, metrics, connections, overload)


class Recording(dict):  # type: ignore[type-arg]
    """An environment that notes every variable a parser looks up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Optional[str] = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


#: environments that take the parsers down every branch that reads a variable
ENVIRONMENTS = (
    {},
    {"SERVER_PORT": "", "RATE_LIMIT": "10/s", "AUTH_JWKS_URL": "https://idp.example/jwks.json",
     "METRICS_TOKEN": "metrics-token-0123456789", "AUDIT_LOG": "stderr", "MAX_EXPIRE": "600"},
    {"AUTH_JWT_SECRET": "s" * 32, "RATE_LIMIT": "10/s", "RATE_LIMIT_STORAGE": "redis://127.0.0.1:1/0"},
)


def test_config_variables_are_the_union_of_the_modules() -> None:
    declared = [name for module in MODULES for name in module.VARIABLES]
    assert len(declared) == len(set(declared)), "a variable declared by two modules"
    assert (*config.OWN_VARIABLES, *declared) == config.VARIABLES
    assert testing.HOLD_VARIABLE not in config.VARIABLES  # a test hook, read by testing.main only


def test_the_variables_are_those_the_parsers_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "read_environment", lambda environ, dotenv_path: environ)
    read: set[str] = set()
    for env in ENVIRONMENTS:
        recording = Recording({**CREDENTIALS, **env})
        config.load_settings(recording, dotenv_path=None)
        read |= recording.read
    # read elsewhere: the metrics directory when workers start, the OpenTelemetry SDK's own variables
    # (passed on when tracing is on, which needs the otel extra)
    elsewhere = {metrics.ENV_DIR, *tracing.OTEL_VARIABLES}
    assert read - set(config.VARIABLES) == set(), "read but not declared"
    assert set(config.VARIABLES) - read <= elsewhere, "declared but never read"


def test_each_module_reads_what_it_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    parsers = {auth: auth.parse_auth_settings, jwtauth: jwtauth.parse_jwt_settings,
               policy: policy.parse_policy_settings, ratelimit: ratelimit.parse_ratelimit_settings,
               logs: logs.parse_log_settings, audit: audit.parse_audit_settings,
               tracing: tracing.parse_tracing_settings, metrics: metrics.parse_metrics_settings,
               connections: connections.parse_connection_settings, overload: overload.parse_overload_settings}
    for module, parse in parsers.items():
        read: set[str] = set()
        for env in ENVIRONMENTS:
            recording = Recording(env)
            parse(recording)
            read |= recording.read
        others = {name for other in MODULES if other is not module for name in other.VARIABLES}
        assert read - others == set(module.VARIABLES) - {metrics.ENV_DIR} - (
            set(tracing.OTEL_VARIABLES) - read), module.__name__


_TYPING = "for annotations only (under TYPE_CHECKING): the modules import each other at run time"
#: the imports below module level that remain, and why
FUNCTION_IMPORTS = {
    "__main__.py": dict.fromkeys((".", ".accesslog", ".app", ".connections", ".logs"),
                                 "after the settings are valid: a configuration error exits at once"),
    "audit.py": {".state": _TYPING},
    "limitstore.py": {"redis.exceptions": "the Redis client is imported only with a Redis RATE_LIMIT_STORAGE"},
    "metrics.py": {"prometheus_client": "prometheus_client picks its storage when first imported: after "
                                        "PROMETHEUS_MULTIPROC_DIR is set"},
    "runner.py": {"aiohttp": "probes aiohttp's optional compiled parser",
                  "uvloop": "optional (not on Windows or PyPy)"},
    "state.py": dict.fromkeys((".accesslog", ".auth", ".cors", ".guard", ".issuing", ".token_routes"), _TYPING),
    "tracing.py": {".policy": _TYPING, ".state": _TYPING,
                   **dict.fromkeys(("opentelemetry", "opentelemetry.trace.propagation.tracecontext",
                                    "opentelemetry.sdk.resources", "opentelemetry.sdk.trace",
                                    "opentelemetry.sdk.trace.export",
                                    "opentelemetry.exporter.otlp.proto.http.trace_exporter"),
                                   "the optional otel extra, imported only when tracing is on")},
}
_IMPORT = re.compile(r"^[ \t]+(?:from[ \t]+(\S+)[ \t]+import|import[ \t]+(\S+))", re.M)


def test_no_function_level_imports_that_hide_a_dependency() -> None:
    found: dict[str, set[str]] = {}
    for path in sorted(SERVER.glob("*.py")):
        for match in _IMPORT.finditer(path.read_text()):
            found.setdefault(path.name, set()).add(match.group(1) or match.group(2))
    assert found == {name: set(reasons) for name, reasons in FUNCTION_IMPORTS.items()}
