"""Schemathesis against the service's own ``/openapi.json``, over a real
socket: for every operation, schema-conforming (positive) and
schema-violating (negative) requests; no response may be a 5xx, and every
response must be documented (status code, content type, headers, body
schema).

Runs twice: against the drop-in configuration (no auth: token paths are
exercised deeply) and against one with API keys, a rate limit and a metrics
token (the 401/403/429 answers are checked against the document too). The
number of examples is bounded (``FUZZ_EXAMPLES``, default 25 per operation
and mode) so the whole file takes seconds; the count of cases run is printed
(``pytest -s``) and checked.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from agora_token_server.testing import LiveServer
from tests.support.service import CREDENTIALS

schemathesis = pytest.importorskip("schemathesis")
requests = pytest.importorskip("requests")

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
API_KEY = "fuzz-key-0123456789abcdef"


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("fuzz-open"), CREDENTIALS) as server:
        yield server


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"AUTH_API_KEYS": API_KEY, "RATE_LIMIT": "60/s", "METRICS_TOKEN": "fuzz-metrics-token",
           "CHANNEL_PATTERN": "[A-Za-z0-9_-]{1,64}"}
    with LiveServer(tmp_path_factory.mktemp("fuzz-guarded"), {**CREDENTIALS, **env}) as server:
        yield server


def run_schema(server: LiveServer, examples: int, headers: dict[str, str] | None = None) -> dict[str, int]:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    session = requests.Session()
    counts: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} [{mode.value}]"
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception as exc:  # noqa: BLE001 - e.g. nothing to negate in an operation without inputs
                counts[label] = 0
                print(f"  {label}: no strategy ({type(exc).__name__})")
                continue

            n = 0

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case: Any) -> None:
                nonlocal n
                response = case.call(base_url=server.url, session=session, headers=headers,
                                     allow_redirects=False, timeout=15)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                case.validate_response(response, checks=CHECKS)
                n += 1

            try:
                run()
            except Exception as exc:
                # schemathesis may refuse to build negative cases for some operations
                if type(exc).__name__ in ("Unsatisfiable", "SkipTest") or "Unsatisfiable" in repr(exc):
                    counts[label] = n
                    continue
                raise
            counts[label] = n
    print(f"\nschemathesis against {server.url}: {sum(counts.values())} cases, "
          f"statuses {dict(sorted(statuses.items()))}")
    for label, n in counts.items():
        print(f"  {n:4d}  {label}")
    assert all(s < 500 for s in statuses)
    return counts


def test_schemathesis_open_service(open_server: LiveServer) -> None:
    counts = run_schema(open_server, EXAMPLES)
    assert sum(counts.values()) >= 10 * EXAMPLES
    assert open_server.proc.poll() is None, open_server.log()


def test_schemathesis_with_auth_and_limits(guarded_server: LiveServer) -> None:
    counts = run_schema(guarded_server, max(3, EXAMPLES // 3))
    assert sum(counts.values()) >= 10
    with_key = run_schema(guarded_server, max(3, EXAMPLES // 3), headers={"X-API-Key": API_KEY})
    assert sum(with_key.values()) >= 10
    assert guarded_server.proc.poll() is None, guarded_server.log()
