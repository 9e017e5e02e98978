"""The one-click deploy files (docs/packaging.md, "Deploy files") run the
installed ``agora-token-server`` with flags it accepts, health-check a route
it answers, and name only settings the service knows. They cannot be
deployed from here; this is what can be checked without the platforms."""

from __future__ import annotations

import json
import shlex

import yaml

from agora_token_server.__main__ import _parse_args
from agora_token_server.config import VARIABLES
from tests.packaging.support import ROOT

DEPLOY_FILES = ("Procfile", "heroku.yml", "app.json", "railway.json", "render.yaml", "Dockerfile")


def check_command(command: str) -> None:
    argv = shlex.split(command.replace("$PORT", "8080"))
    assert argv[0] == "agora-token-server", command
    args = _parse_args(argv[1:])  # exits (a failed test) on a flag the service does not take
    assert args.host == "0.0.0.0" and args.port == 8080, command


def test_no_deploy_file_runs_the_checkout_module() -> None:
    for name in DEPLOY_FILES:
        assert "python -m server" not in (ROOT / name).read_text(), name


def test_procfile_runs_the_installed_command() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("web: ")
    check_command(lines[0][len("web: "):])


def test_heroku_builds_the_dockerfile_and_runs_the_installed_command() -> None:
    spec = yaml.safe_load((ROOT / "heroku.yml").read_text())
    assert spec["build"]["docker"]["web"] == "Dockerfile"
    check_command(spec["run"]["web"])
    app = json.loads((ROOT / "app.json").read_text())
    assert app["stack"] == "container"  # heroku.yml, not the Procfile
    assert set(app["env"]) <= set(VARIABLES), set(app["env"]) - set(VARIABLES)
    assert app["env"]["APP_ID"]["required"] and app["env"]["APP_CERTIFICATE"]["required"]
    assert "value" not in app["env"]["APP_CERTIFICATE"]  # a secret: asked at deploy time


def test_railway_and_render_build_the_dockerfile_and_check_readiness() -> None:
    railway = json.loads((ROOT / "railway.json").read_text())
    assert railway["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"}
    assert railway["deploy"]["healthcheckPath"] == "/readyz"  # a readiness check: traffic moves when it is 200
    (service,) = yaml.safe_load((ROOT / "render.yaml").read_text())["services"]
    assert service["runtime"] == "docker" and service["dockerfilePath"] == "./Dockerfile"
    assert service["healthCheckPath"] == "/readyz"
    env = {v["key"]: v for v in service["envVars"]}
    assert set(env) <= set(VARIABLES), set(env) - set(VARIABLES)
    assert env["APP_ID"]["sync"] is False and env["APP_CERTIFICATE"]["sync"] is False
