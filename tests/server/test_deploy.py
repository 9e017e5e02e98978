"""deploy/compose.yaml (Redis + two replicas + a load balancer) and the
Dockerfile, checked as files: no container engine runs here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from agora_token_server.config import VARIABLES, load_settings
from tests.support.service import CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_services() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "token-1", "token-2", "lb"}
    replicas = [services["token-1"], services["token-2"]]
    assert replicas[0] == replicas[1]  # the same service, twice
    for svc in replicas:
        assert svc["command"][0] == "agora-token-server" and "--workers" in svc["command"]
        assert "/healthz" in " ".join(svc["healthcheck"]["test"])
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        env = svc["environment"]
        assert env["RATE_LIMIT_STORAGE"].startswith("redis://redis:")  # the shared state: only Redis
        assert env["TRUST_PROXY"] == "1"  # behind exactly one proxy, the lb


def test_settings_are_real_and_valid() -> None:
    env = compose()["services"]["token-1"]["environment"]
    unknown = set(env) - set(VARIABLES)
    assert not unknown, f"not settings of the service: {unknown}"
    values = {k: str(v) for k, v in env.items() if not str(v).startswith("${")}
    values.pop("AUTH_API_KEYS_FILE")  # a secret mounted at run time
    load_settings({**CREDENTIALS, **values}, dotenv_path=None)  # every value parses


def test_documented() -> None:
    docs = (ROOT / "docs" / "deployment.md").read_text()
    assert "deploy/compose.yaml" in docs
    for name in compose()["services"]["token-1"]["environment"]:
        assert name in docs, f"{name} is used in deploy/compose.yaml but not explained in docs/deployment.md"


def test_lb_forwards_the_client_address_to_the_replicas() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", conf)
    for name in ("token-1:8080", "token-2:8080"):
        assert name in conf


def test_dockerfile_runs_the_installed_command() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["agora-token-server", "--host", "0.0.0.0"]' in text
    assert "python -m server" not in text


def test_the_stop_grace_period_outlasts_the_shutdown() -> None:
    """Docker kills a replica after ``stop_grace_period``: it must be longer
    than SHUTDOWN_DELAY + SHUTDOWN_GRACE, or requests in progress are lost."""
    svc = compose()["services"]["token-1"]
    env = {k: str(v) for k, v in svc["environment"].items() if not str(v).startswith("${")}
    env.pop("AUTH_API_KEYS_FILE")
    conn = load_settings({**CREDENTIALS, **env}, dotenv_path=None).connections
    period = re.fullmatch(r"(\d+)s", svc["stop_grace_period"])
    assert period is not None
    assert int(period.group(1)) > conn.shutdown_delay + conn.shutdown_grace


def test_lb_retries_on_the_other_replica() -> None:
    """What a rolling restart needs from nginx (tests/server/test_rolling_restart.py runs it)."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"proxy_next_upstream error timeout http_502 http_503 non_idempotent;", conf)
    for line in ("proxy_http_version 1.1;", 'proxy_set_header Connection "";', "keepalive 32;"):
        assert line in conf
