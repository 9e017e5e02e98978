"""Start ``python -m server`` as a real process on a free loopback port
(used by the multi-worker metrics, fuzz and browser tests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"

# Settings the service reads; cleared so the caller's environment cannot leak in.
_SERVICE_VARS = ("APP_ID", "APP_CERTIFICATE", "SERVER_PORT", "PORT", "HOST", "CORS_ALLOW_ORIGIN",
                 "PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", "METRICS_TOKEN",
                 "MAX_EXPIRE", "CHANNEL_PATTERN", "RATE_LIMIT", "TRUST_PROXY", "LOG_FORMAT")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, workdir: Path, env: Optional[dict[str, str]] = None, args: tuple[str, ...] = (),
                 credentials: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS and not k.startswith("AUTH_")}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
        if credentials:
            full_env.update({"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE})
        full_env.update(env or {})
        self._log = open(self.log_path, "wb")
        # cwd is a scratch directory: no stray .env is read
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(self.port), *args],
            cwd=str(workdir), env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, limit: float = 60.0) -> "LiveServer":
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /ping within {limit} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)

    def __enter__(self) -> "LiveServer":
        return self.wait_ready()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def request(url: str, method: str = "GET", body: Any = None, headers: Optional[dict[str, str]] = None,
            raw: Optional[bytes] = None, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on a fresh connection (no redirects followed)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = dict(headers or {})
    if body is not None and raw is None:
        hdrs.setdefault("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()
