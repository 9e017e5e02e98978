"""Every example in README.md and docs/*.md is run here, or marked as not
runnable with the reason (an install from the network, a container).

* ```` ```console ```` blocks: each ``$ command`` runs in bash against a real
  server (``http://localhost:8080`` is rewritten to it) with APP_ID /
  APP_CERTIFICATE set, ``$TOKEN`` a fresh token, and ``.venv/bin`` on PATH;
  the lines after a command are its expected output, compared exactly once
  tokens, request ids and dates are normalised. ``$ make run`` stands for
  the server the test started. A ``<!-- server: NAME=value ... -->`` comment
  before a block adds settings to the server it runs against.
* ```` ```python ```` blocks run with ``app_id`` and ``app_certificate`` defined.
* ```` ```sh ```` blocks must say who runs them: ``<!-- run by: ... -->`` or
  ``<!-- not run: reason -->``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import agora_token
from agora_token_server.testing import LiveServer
from tests.support.service import APP_CERTIFICATE, APP_ID, CREDENTIALS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "CHANGES.md"]
DEFAULT_SERVER = {"CORS_ALLOW_ORIGIN": "https://app.example"}
_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"<!--\s*(server|not run|run by):\s*(.*?)\s*-->")
_TOKEN = re.compile(r"00[67][A-Za-z0-9+/]{10,}={0,2}(\.\.\.)?|00[67][A-Za-z0-9+/]*\.\.\.")
_REQUEST_ID = re.compile(r"(?im)^(x-request-id: ).*$")
_DATE = re.compile(r"(?im)^(date: ).*$")


@dataclass
class Block:
    path: Path
    line: int
    kind: str
    text: str
    directive: tuple[str, str] | None

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks() -> Iterator[Block]:
    for path in DOCS:
        if not path.exists():
            continue
        lines = path.read_text().splitlines()
        i = 0
        directive = None
        while i < len(lines):
            m = _DIRECTIVE.search(lines[i])
            if m:
                directive = (m.group(1), m.group(2))
            fence = _FENCE.match(lines[i])
            if fence and fence.group(1):
                j = i + 1
                while j < len(lines) and not lines[j].startswith("```"):
                    j += 1
                yield Block(path, i + 1, fence.group(1), "\n".join(lines[i + 1:j]), directive)
                directive = None
                i = j
            elif lines[i].strip() and not m:
                directive = None
            i += 1


ALL = list(blocks())


def normalise(text: str) -> str:
    text = _TOKEN.sub("<token>", text)
    text = _REQUEST_ID.sub(r"\1<id>", text)
    return _DATE.sub(r"\1<date>", text).rstrip()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LiveServer]]:
    started: dict[str, LiveServer] = {}
    yield started
    for s in started.values():
        s.stop()


def server_for(servers: dict[str, LiveServer], settings: str, tmp: Path) -> LiveServer:
    if settings not in servers:
        env = {**CREDENTIALS, **DEFAULT_SERVER}
        env.update(dict(item.split("=", 1) for item in shlex.split(settings)))
        servers[settings] = LiveServer(tmp, env).wait_ready()
    return servers[settings]


def run_console(block: Block, server: LiveServer) -> None:
    env = {**os.environ, **CREDENTIALS, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "TOKEN": agora_token.rtc_token(APP_ID, APP_CERTIFICATE, "lobby", 42)}
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{block.name}: output before any command"
            steps[-1][1].append(line)
    for command, expected in steps:
        if command.strip() == "make run":
            continue  # the server this test started stands for it
        command = command.replace("http://localhost:8080", server.url)
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              env=env, timeout=60, cwd=str(server.log_path.parent))
        assert done.returncode == 0, f"{block.name}: `{command}` exited {done.returncode}:\n{done.stderr}"
        if expected:
            assert normalise(done.stdout) == normalise("\n".join(expected)), f"{block.name}: `{command}`"


@pytest.mark.parametrize("block", [b for b in ALL if b.kind in ("console", "python", "sh")],
                         ids=lambda b: b.name)
def test_example(block: Block, servers: dict[str, LiveServer], tmp_path_factory: pytest.TempPathFactory) -> None:
    directive = block.directive
    if directive is not None and directive[0] in ("not run", "run by"):
        assert directive[1], f"{block.name}: say why it is not run, or what runs it"
        pytest.skip(f"{directive[0]}: {directive[1]}")
    if block.kind == "sh":
        pytest.fail(f"{block.name}: an sh block must be marked <!-- run by: ... --> or <!-- not run: ... -->")
    if block.kind == "python":
        exec(compile(block.text, block.name, "exec"), {"app_id": APP_ID, "app_certificate": APP_CERTIFICATE})
        return
    settings = directive[1] if directive is not None and directive[0] == "server" else ""
    run_console(block, server_for(servers, settings, tmp_path_factory.mktemp("docs")))


def test_every_doc_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{path.name}" in readme, path.name


def test_every_setting_is_documented() -> None:
    from agora_token_server.config import VARIABLES

    table = (ROOT / "docs" / "production.md").read_text()
    missing = [name for name in VARIABLES if f"| `{name}` |" not in table]
    assert not missing, f"settings missing from the table in docs/production.md: {missing}"


def test_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
