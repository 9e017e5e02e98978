"""Helpers for tests and benchmarks: a real service process on a free
loopback port (:class:`LiveServer`), plain HTTP requests to it, and token
requests held in flight (:func:`holding_token_requests`, and
``python -m agora_token_server.testing`` with ``TEST_HOLD_FILE``), so that a
test can fill ``MAX_INFLIGHT`` or catch a request mid-handler
deterministically. Nothing here is used by the service itself."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

from . import routes
from .__main__ import main as serve
from .config import VARIABLES
from .state import Handler, PerApp, Route

__all__ = ["HOLD_VARIABLE", "LiveServer", "clean_environment", "free_port", "held_routes",
           "holding_token_requests", "main", "request"]

#: the variable naming the hold file of ``python -m agora_token_server.testing`` (read only by :func:`main`)
HOLD_VARIABLE = "TEST_HOLD_FILE"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_environment(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """This process's environment without any setting the service reads
    (so the caller's own configuration cannot leak in), plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in VARIABLES and k.lower() != "prometheus_multiproc_dir"}
    env.update(extra or {})
    return env


class LiveServer:
    """``python -m agora_token_server`` on 127.0.0.1, in ``workdir`` (so no
    stray ``.env`` is read), output in ``workdir/server-<port>.log``.
    ``SHUTDOWN_DELAY`` is 0 unless ``env`` sets it (so that :meth:`stop`
    does not wait the 5 s meant for a load balancer). When ``env`` sets
    ``TEST_HOLD_FILE``, the process is ``python -m agora_token_server.testing``
    (:func:`main`): admitted token requests wait while that file exists.

    ``command`` replaces the interpreter and module (e.g. an installed
    ``agora-token-server`` script)."""

    def __init__(self, workdir: Path, env: Optional[dict[str, str]] = None, args: Sequence[str] = (),
                 *, command: Optional[Sequence[str]] = None, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - open for the process's lifetime
        module = "agora_token_server.testing" if HOLD_VARIABLE in (env or {}) else "agora_token_server"
        cmd = list(command or (sys.executable, "-m", module))
        self.proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(self.port), *args],
            cwd=str(workdir), env=clean_environment({"SHUTDOWN_DELAY": "0", **(env or {})}), stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, limit: float = 60.0, workers: int = 1) -> "LiveServer":
        """Until ``/ping`` answers (and, with several workers, every one listens)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                    if r.status == 200 and self.log().count(" listening on ") >= workers:
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer /ping within {limit} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait; SIGKILL the process group if it does not stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)

    def __enter__(self) -> "LiveServer":
        return self.wait_ready()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a: Any, **k: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(url: str, method: str = "GET", body: Any = None, headers: Optional[dict[str, str]] = None,
            raw: Optional[bytes] = None, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on a fresh connection (redirects are not followed)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = dict(headers or {})
    if body is not None and raw is None:
        hdrs.setdefault("Content-Type", "application/json")

    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


# --------------------------------------------------------------------------- held token requests

def _held(handler: Handler, path: Path) -> Handler:
    async def held(request: Any) -> Any:
        while path.exists():
            await asyncio.sleep(0.02)
        return await handler(request)

    return held


def _hold(handler: Union[Handler, PerApp], path: Path) -> Union[Handler, PerApp]:
    if isinstance(handler, PerApp):
        bind = handler.bind
        return PerApp(lambda tokens: _held(bind(tokens), path))
    return _held(handler, path)


def held_routes(table: Sequence[Route], path: Union[str, Path]) -> tuple[Route, ...]:
    """``table`` with every token route (``sheddable``) waiting while ``path``
    exists before its handler runs: admitted, counted in flight, not yet served."""
    hold = Path(path)
    return tuple(dataclasses.replace(r, handler=_hold(r.handler, hold)) if r.sheddable else r for r in table)


@contextmanager
def holding_token_requests(path: Union[str, Path]) -> Iterator[None]:
    """Apps created within (``create_app``) hold their token requests while ``path`` exists."""
    table = routes.ROUTES
    routes.ROUTES = held_routes(table, path)
    try:
        yield
    finally:
        routes.ROUTES = table


def main() -> int:
    """``python -m agora_token_server.testing``: the service, its token
    requests held while the file ``TEST_HOLD_FILE`` names exists."""
    path = os.environ.get(HOLD_VARIABLE)
    if path:
        routes.ROUTES = held_routes(routes.ROUTES, path)
    return serve()


if __name__ == "__main__":
    sys.exit(main())
