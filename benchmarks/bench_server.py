#!/usr/bin/env python3
"""Service throughput against a floor, measured in one run, interleaved.

Starts, side by side on loopback, with the same number of worker processes:

* ``floor``: a bare aiohttp app (``benchmarks/floor_app.py``: no middleware,
  no access log, uvloop, the same agora_token calls);
* ``service``: this service with its defaults (access log, metrics, request
  ids on);
* ``auth+rl``: the service with ``AUTH_API_KEYS`` and ``RATE_LIMIT`` set
  (the limit far above the load, so it costs its bookkeeping but never
  answers 429);

then loads them in turn, round after round (the order rotating), with
``wrk -t2 -c64`` on POST ``/getToken`` (rtc body), GET
``/rtc/test/publisher/uid/123/`` and GET ``/ping``. It prints each run as it
goes and ends with the median req/s, p50 and p99 of every target and route,
and the ratios of medians to the floor, next to the targets.

    python -m benchmarks.bench_server [--duration 5] [--rounds 3] [--workers 2] [--connections 64]

Needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from agora_token_server.testing import LiveServer, clean_environment, free_port, request

from tests.support.credentials import APP_CERTIFICATE, APP_ID

ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = {"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE}
API_KEY = "bench-api-key-" + "k" * 24
RTC_BODY = '{"tokenType": "rtc", "channel": "test", "role": "publisher", "uid": "123", "expire": 3600}'
ROUTES = [
    ("POST /getToken", "POST", "/getToken", RTC_BODY),
    ("GET /rtc/…/uid/123/", "GET", "/rtc/test/publisher/uid/123/", None),
    ("GET /ping", "GET", "/ping", None),
]
TOKEN_ROUTES = {"POST /getToken", "GET /rtc/…/uid/123/"}
# (target, routes it is loaded on, minimum ratio of medians to the floor)
TARGETS = {"service": (None, 0.8), "auth+rl": (TOKEN_ROUTES, 0.7)}
P99_LIMIT = 1.5  # service p99 at most this many times the floor's


class Floor:
    """benchmarks/floor_app.py as a process."""

    def __init__(self, workdir: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(workdir / "floor.log", "wb")  # noqa: SIM115 - open for the process's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "floor_app.py"), "--port", str(self.port),
             "--workers", str(workers)], env=clean_environment(CREDENTIALS), stdout=self._log,
            stderr=subprocess.STDOUT, cwd=str(workdir))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(self.url + "/ping", timeout=2)[0] == 200:
                    time.sleep(0.3)
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the floor app did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self._log.close()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def wrk(url: str, method: str, body: Optional[str], headers: dict[str, str], args: argparse.Namespace,
        tmp: Path, connections: Optional[int] = None) -> dict[str, Any]:
    """One wrk run; req/s, p50/p99 (ms), non-2xx and timeouts."""
    cmd = ["wrk", f"-t{args.threads}", f"-c{connections or args.connections}", f"-d{args.duration}s",
           "--latency", "--timeout", "5s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if method == "POST":
        script = tmp / "post.lua"
        script.write_text('wrk.method = "POST"\n'
                          f"wrk.body = {json.dumps(body)}\n"
                          'wrk.headers["Content-Type"] = "application/json"\n')
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def find(pattern: str) -> Optional[str]:
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else None

    errors = find(r"Socket errors:(.*)") or ""
    timeouts = re.search(r"timeout (\d+)", errors)
    return {"rps": float(find(r"Requests/sec:\s+([\d.]+)") or "nan"),
            "requests": int(find(r"(\d+) requests in") or 0),
            "p50": _ms(find(r"^\s+50%\s+(\S+)") or ""), "p99": _ms(find(r"^\s+99%\s+(\S+)") or ""),
            "non2xx": int(find(r"Non-2xx or 3xx responses:\s+(\d+)") or 0),
            "timeouts": int(timeouts.group(1)) if timeouts else 0, "errors": errors.strip()}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="rounds over every target and route (default 3)")
    p.add_argument("--workers", type=int, default=2, help="worker processes per server (default 2)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    import agora_token

    command = "python -m benchmarks.bench_server " + " ".join(sys.argv[1:])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {machine()}", flush=True)
    print(f"# agora_token backend {agora_token.BACKEND}; {args.workers} workers per server; wrk -t{args.threads} "
          f"-c{args.connections} -d{args.duration}s; {args.rounds} rounds, interleaved", flush=True)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print("# starting the floor app and the service configurations ...", flush=True)
        floor = Floor(tmp, args.workers)
        worker_args = ("--workers", str(args.workers))
        limit = "1000000/s"
        servers = {
            "service": LiveServer(tmp, CREDENTIALS, worker_args),
            "auth+rl": LiveServer(tmp, {**CREDENTIALS, "AUTH_API_KEYS": API_KEY, "RATE_LIMIT": limit},
                                  worker_args),
        }
        headers = {"service": {}, "auth+rl": {"X-API-Key": API_KEY}, "floor": {}}
        try:
            for s in servers.values():
                s.wait_ready(workers=args.workers)
            targets: list[tuple[str, str, Callable[[], str]]] = [("floor", floor.url, lambda: "")]
            targets += [(name, s.url, lambda: "") for name, s in servers.items()]
            for rnd in range(args.rounds):
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
                for label, method, path, body in ROUTES:
                    for name, url, _ in order:
                        only = TARGETS.get(name, (None, 0))[0]
                        if only is not None and label not in only:
                            continue
                        r = wrk(url + path, method, body, headers[name], args, tmp)
                        runs.setdefault((name, label), []).append(r)
                        print(f"round {rnd + 1}/{args.rounds}  {name:8s} {label:22s} {r['rps']:>9,.0f} req/s  "
                              f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  non-2xx {r['non2xx']}"
                              + (f"  errors: {r['errors']}" if r["errors"] else ""), flush=True)
        finally:
            for s in servers.values():
                s.stop()
            floor.stop()

    def med(name: str, label: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[(name, label)])

    print("\n# summary: medians over the rounds; ratio = median req/s / the floor's median req/s")
    print(f"{'target':9s} {'route':22s} {'req/s':>9s} {'p50 ms':>7s} {'p99 ms':>7s} {'ratio':>6s} "
          f"{'p99/floor':>9s}  target")
    ok = True
    summary = []
    for label, _, _, _ in ROUTES:
        for name in ["floor", *servers]:
            if (name, label) not in runs:
                continue
            rps, p50, p99 = med(name, label, "rps"), med(name, label, "p50"), med(name, label, "p99")
            non2xx = sum(r["non2xx"] for r in runs[(name, label)])
            ratio = rps / med("floor", label, "rps")
            p99_ratio = p99 / med("floor", label, "p99")
            goal = ""
            if name in TARGETS:
                want = TARGETS[name][1]
                met = ratio >= want and non2xx == 0 and (name != "service" or p99_ratio <= P99_LIMIT)
                ok &= met
                goal = (f">= {want}x" + (f", p99 <= {P99_LIMIT}x" if name == "service" else "")
                        + f", 0 non-2xx: {'met' if met else 'MISSED'}")
            print(f"{name:9s} {label:22s} {rps:>9,.0f} {p50:7.2f} {p99:7.2f} {ratio:6.2f} {p99_ratio:9.2f}  {goal}")
            summary.append({"target": name, "route": label, "rps": rps, "p50_ms": p50, "p99_ms": p99,
                            "ratio": ratio, "p99_ratio": p99_ratio, "non2xx": non2xx})
    print(f"\n# command: {command}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "command": command, "summary": summary,
                                         "runs": {f"{k[0]} {k[1]}": v for k, v in runs.items()}}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
