"""Every example in README.md and docs/*.md is run here, or marked as not
runnable with the reason (an install from the network, a container).

* ```` ```console ```` blocks: the ``$ command`` lines of a block run in one
  bash, one after the other, as when the block is pasted into a terminal (a
  variable set by one command is there for the next), against a real server
  (``http://localhost:8080`` is rewritten to it); the lines after a command
  are its expected output, compared exactly once tokens, request ids,
  dates and the CPU's part in the SHA-256 path (``builtin+sha-ni``) are
  normalised. ``$ make run`` stands for the server the test started.
  A ``<!-- server: NAME=value ... -->`` comment before a block adds settings
  to the server it runs against.
* ```` ```python ```` blocks run in a fresh namespace.
* ```` ```sh ```` blocks must say who runs them: ``<!-- run by: ... -->`` or
  ``<!-- not run: reason -->``.

README.md's blocks run exactly as they stand, from the checkout's root, with
nothing added: no credentials, no ``$TOKEN``, no PATH (they set what they
use, and activate ``.venv``). The blocks of docs/*.md are parts of reference
pages that set the scene once, at the top or in the text (docs/library.md:
``app_id`` and ``app_certificate`` are Agora's public sample credentials), so
that each example shows only its own point: they still get ``app_id`` and
``app_certificate`` (Python), APP_ID, APP_CERTIFICATE, a fresh token in
``$TOKEN`` and ``.venv/bin`` on PATH (console), and run in a scratch directory.
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
#: the built-in SHA-256 runs on the CPU's SHA extensions where it has them: a fact of the machine
_SHA_NI = re.compile(r"(sha256: builtin)\+sha-ni\b")


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
    text = _SHA_NI.sub(r"\1", text)
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


def reference_env() -> dict[str, str]:
    """What the console blocks of docs/*.md take as given (see the module docstring)."""
    return {**os.environ, **CREDENTIALS, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "TOKEN": agora_token.rtc_token(APP_ID, APP_CERTIFICATE, "lobby", 42)}


def readme_env() -> dict[str, str]:
    """This shell's environment less anything a README block could lean on."""
    return {k: v for k, v in os.environ.items() if k not in (*CREDENTIALS, "TOKEN")}


def run_console(block: Block, server: LiveServer, env: dict[str, str], cwd: Path, tmp: Path) -> None:
    """The block's commands in one bash, each one's output and exit status kept apart."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{block.name}: output before any command"
            steps[-1][1].append(line)
    steps = [(c, e) for c, e in steps if c.strip() != "make run"]  # the server this test started stands for it
    out = shlex.quote(str(tmp))
    script = "".join(
        f"{{ {command.replace('http://localhost:8080', server.url)}\n}} >{out}/out{i} 2>{out}/err{i} </dev/null\n"
        f"echo $? >{out}/rc{i}\n"
        for i, (command, _) in enumerate(steps))
    subprocess.run(["bash", "-c", script], env=env, cwd=str(cwd), timeout=60 * len(steps), check=False)
    for i, (command, expected) in enumerate(steps):
        rc = (tmp / f"rc{i}").read_text().strip() if (tmp / f"rc{i}").exists() else "(never ran)"
        assert rc == "0", f"{block.name}: `{command}` exited {rc}:\n{(tmp / f'err{i}').read_text()}"
        if expected:
            got = (tmp / f"out{i}").read_text()
            assert normalise(got) == normalise("\n".join(expected)), f"{block.name}: `{command}`"


@pytest.mark.parametrize("block", [b for b in ALL if b.kind in ("console", "python", "sh")],
                         ids=lambda b: b.name)
def test_example(block: Block, servers: dict[str, LiveServer], tmp_path_factory: pytest.TempPathFactory) -> None:
    directive = block.directive
    if directive is not None and directive[0] in ("not run", "run by"):
        assert directive[1], f"{block.name}: say why it is not run, or what runs it"
        pytest.skip(f"{directive[0]}: {directive[1]}")
    if block.kind == "sh":
        pytest.fail(f"{block.name}: an sh block must be marked <!-- run by: ... --> or <!-- not run: ... -->")
    readme = block.path == ROOT / "README.md"
    if block.kind == "python":
        given = {} if readme else {"app_id": APP_ID, "app_certificate": APP_CERTIFICATE}
        exec(compile(block.text, block.name, "exec"), {"__name__": "__main__", **given})
        return
    settings = directive[1] if directive is not None and directive[0] == "server" else ""
    tmp = tmp_path_factory.mktemp("docs")
    server = server_for(servers, settings, tmp)
    if not readme:
        run_console(block, server, reference_env(), server.log_path.parent, tmp)
        return
    if "source .venv/bin/activate" in block.text and not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("this README block runs in the checkout's .venv: `make install` sets it up")
    run_console(block, server, readme_env(), ROOT, tmp)


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
