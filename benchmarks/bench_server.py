#!/usr/bin/env python3
"""Load-test the token service over loopback.

Starts ``python -m server`` on 127.0.0.1 (1 worker, then 2 workers), loads
each endpoint for a fixed time at a fixed concurrency and prints requests/s,
p50/p99 latency and the number of non-2xx responses:

    GET  /ping
    POST /getToken                      (rtc body)
    GET  /rtc/test/publisher/uid/123/

Uses ``wrk`` (Debian package ``wrk``) with ``-t2 -c64 -d10s --latency`` by
default and a Lua script for the POST; falls back to an aiohttp client load
generator when wrk is missing (or with ``--no-wrk``); its numbers are lower
because the generator itself is Python.

    python benchmarks/bench_server.py [--duration 10] [--connections 64] [--threads 2] [--workers 1,2]

Reference (issue 3): the original Go service did ~6,500 req/s on POST
/getToken, 5,500-6,000 on the GET rtc route and ~70,000 on /ping with
``wrk -t2 -c64 -d10s``; the target is at least twice that on the token routes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
RTC_BODY = '{"tokenType": "rtc", "channel": "test", "role": "publisher", "uid": "123", "expire": 3600}'
ENDPOINTS = [
    ("GET /ping", "GET", "/ping", None),
    ("POST /getToken (rtc)", "POST", "/getToken", RTC_BODY),
    ("GET /rtc/test/publisher/uid/123/", "GET", "/rtc/test/publisher/uid/123/", None),
]
# settings of features that would change what is measured
_CLEAR = ("APP_ID", "APP_CERTIFICATE", "SERVER_PORT", "PORT", "HOST", "CORS_ALLOW_ORIGIN", "RATE_LIMIT",
          "MAX_EXPIRE", "CHANNEL_PATTERN", "METRICS_TOKEN", "LOG_FORMAT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workers: int, log_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _CLEAR and not k.startswith("AUTH_")}
    env.update(APP_ID=APP_ID, APP_CERTIFICATE=APP_CERTIFICATE, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "wb"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1):
                time.sleep(0.5 if workers > 1 else 0.1)  # let every worker come up
                return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start:\n" + log_path.read_text())


def stop_server(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(url: str, method: str, body: Optional[str], args: argparse.Namespace, tmp: Path) -> dict:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if method == "POST":
        script = tmp / "post.lua"
        script.write_text('wrk.method = "POST"\n'
                          f"wrk.body = {json.dumps(body)}\n"
                          'wrk.headers["Content-Type"] = "application/json"\n')
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return {"rps": rps, "requests": total, "p50_ms": _ms(p50.group(1)) if p50 else float("nan"),
            "p99_ms": _ms(p99.group(1)) if p99 else float("nan"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1).strip() if errors else ""}


async def _aiohttp_load(url: str, method: str, body: Optional[str], args: argparse.Namespace) -> dict:
    import aiohttp

    latencies: list[float] = []
    non2xx = 0
    data = body.encode() if body else None
    headers = {"Content-Type": "application/json"} if body else {}
    end = time.perf_counter() + args.duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal non2xx
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            async with session.request(method, url, data=data, headers=headers) as r:
                await r.read()
                if not 200 <= r.status < 300:
                    non2xx += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    conn = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=conn) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(args.connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return {"rps": n / elapsed, "requests": n, "p50_ms": latencies[n // 2] if n else float("nan"),
            "p99_ms": latencies[min(n - 1, int(n * 0.99))] if n else float("nan"),
            "non2xx": non2xx, "socket_errors": ""}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="seconds per endpoint (default 10)")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    p.add_argument("--no-wrk", action="store_true", help="use the aiohttp load generator even if wrk exists")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = p.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.no_wrk
    tool = (f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency" if use_wrk
            else f"aiohttp load generator, {args.connections} connections, {args.duration}s")
    import agora_token

    print(f"# load: {tool}; agora_token backend: {agora_token.BACKEND}; cpus: {os.cpu_count()}")
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for workers in [int(w) for w in args.workers.split(",")]:
            proc, port = start_server(workers, tmp / f"server-{workers}.log")
            try:
                for label, method, path, body in ENDPOINTS:
                    url = f"http://127.0.0.1:{port}{path}"
                    if use_wrk:
                        r = run_wrk(url, method, body, args, tmp)
                    else:
                        r = asyncio.run(_aiohttp_load(url, method, body, args))
                    r.update(workers=workers, endpoint=label)
                    results.append(r)
                    print(f"workers={workers}  {label:36s} {r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:7.2f} ms"
                          f"  p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non2xx']}"
                          + (f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else ""),
                          flush=True)
            finally:
                code = stop_server(proc)
                if code != 0:
                    print(f"# warning: server exited with code {code}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
