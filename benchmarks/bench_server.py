#!/usr/bin/env python3
"""Service throughput and overload behaviour against a floor, measured in one
run, interleaved.

Starts, side by side on loopback, each with the same number of worker
processes:

* ``floor``: a bare aiohttp app (``benchmarks/floor_app.py``: no middleware,
  no access log, uvloop, the same agora_token calls);
* ``service``: this service with its defaults (access log, metrics, request
  ids, load shedding on);
* ``rl-memory``: the service with ``AUTH_API_KEYS`` and ``RATE_LIMIT`` (far
  above the load, so it costs its bookkeeping but never answers 429), limits
  in process memory;
* ``rl-redis``: the same with ``RATE_LIMIT_STORAGE`` on a local redis-server
  (started by the benchmark);

then, round after round (the order rotating), loads them with ``wrk -t2
-c64``: POST ``/getToken`` (rtc body), GET ``/rtc/test/publisher/uid/123/``,
GET ``/ping``; and, for overload, POST ``/getToken`` on ``floor`` and
``service`` with ``-c64`` and ``-c1000`` (``--timeout 5s``). It prints each run
as it goes and ends with medians, ratios of medians, and the targets:

* service >= 0.8x the floor on every route, p99 <= 1.5x the floor's, 0 non-2xx;
* rl-memory >= 0.7x the floor on the token routes;
* rl-redis >= 0.7x rl-memory on POST /getToken;
* at 1,000 connections: 0 requests unanswered within 5 s, p99 <= 1 s, 2xx
  throughput >= 0.8x the 64-connection run (shed responses counted).

    python -m benchmarks.bench_server [--duration 4] [--rounds 5] [--workers 2] [--quick]

Needs ``wrk`` and ``redis-server`` (Debian packages ``wrk``, ``redis-server``;
without redis-server the Redis target is skipped and said so).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from agora_token_server.testing import LiveServer, request
from benchmarks.report import machine, write_section
from tests.support.prometheus import sample
from tests.support.redis_server import RedisServer, redis_binary
from tests.support.service import CREDENTIALS

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-api-key-" + "k" * 24
RTC_BODY = '{"tokenType": "rtc", "channel": "test", "role": "publisher", "uid": "123", "expire": 3600}'
POST, RTC, PING = "POST /getToken", "GET /rtc/…/uid/123/", "GET /ping"
ROUTES = {POST: ("POST", "/getToken", RTC_BODY), RTC: ("GET", "/rtc/test/publisher/uid/123/", None),
          PING: ("GET", "/ping", None)}
HIGH_LIMIT = "1000000/s"
DOC_NAME = "docs/benchmarks.md"


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    routes: tuple[str, ...]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def wrk(url: str, route: str, headers: dict[str, str], args: argparse.Namespace, post_script: Path,
        connections: int) -> dict[str, Any]:
    """One wrk run: req/s, 2xx req/s, p50/p99 (ms), non-2xx, timeouts."""
    method, path, body = ROUTES[route]
    cmd = ["wrk", f"-t{args.threads}", f"-c{connections}", f"-d{args.duration}s", "--latency", "--timeout", "5s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if method == "POST":
        cmd += ["-s", str(post_script)]
    out = subprocess.run(cmd + [url + path], capture_output=True, text=True, check=True).stdout

    def find(pattern: str) -> Optional[str]:
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else None

    errors = find(r"Socket errors:(.*)") or ""
    timeouts = re.search(r"timeout (\d+)", errors)
    total = int(find(r"(\d+) requests in") or 0)
    seconds = float(find(r"requests in ([\d.]+)s") or args.duration)
    non2xx = int(find(r"Non-2xx or 3xx responses:\s+(\d+)") or 0)
    return {"rps": float(find(r"Requests/sec:\s+([\d.]+)") or "nan"), "rps_2xx": (total - non2xx) / seconds,
            "requests": total, "p50": _ms(find(r"^\s+50%\s+(\S+)") or ""),
            "p99": _ms(find(r"^\s+99%\s+(\S+)") or ""), "non2xx": non2xx,
            "timeouts": int(timeouts.group(1)) if timeouts else 0, "errors": errors.strip()}


def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def shed_count(url: str) -> float:
    return sample(request(url + "/metrics")[2].decode(), "agora_token_requests_shed_total")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=4, help="seconds per wrk run (default 4)")
    p.add_argument("--rounds", type=int, default=5, help="rounds over every target and route (default 5)")
    p.add_argument("--workers", type=int, default=2, help="worker processes per server (default 2)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--quick", action="store_true", help="1 round of 3 s: a smoke run, not for numbers")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--markdown", action="store_true", help="write the summary into docs/benchmarks.md")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 3
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    import agora_token

    command = "python -m benchmarks.bench_server " + " ".join(sys.argv[1:])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {machine()}", flush=True)
    print(f"# agora_token backend {agora_token.BACKEND}; {args.workers} workers per server; wrk -t{args.threads} "
          f"-d{args.duration}s --timeout 5s; {args.rounds} rounds, interleaved", flush=True)
    overload: dict[tuple[str, int], list[dict[str, Any]]] = {}
    shed: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print("# starting the floor app, redis-server and the service configurations ...", flush=True)
        redis = RedisServer(tmp).start() if redis_binary() else None
        if redis is None:
            print("# redis-server is not installed: the rl-redis target is skipped", flush=True)
        post_script = tmp / "post.lua"  # the POST /getToken body
        post_script.write_text('wrk.method = "POST"\n'
                               f"wrk.body = {json.dumps(ROUTES[POST][2])}\n"
                               'wrk.headers["Content-Type"] = "application/json"\n')
        workers = ("--workers", str(args.workers))
        floor = LiveServer(tmp, CREDENTIALS, workers,
                           command=[sys.executable, str(ROOT / "benchmarks" / "floor_app.py")])
        auth = {**CREDENTIALS, "AUTH_API_KEYS": API_KEY, "RATE_LIMIT": HIGH_LIMIT}
        servers = {"service": LiveServer(tmp, CREDENTIALS, workers),
                   "rl-memory": LiveServer(tmp, auth, workers)}
        if redis is not None:
            servers["rl-redis"] = LiveServer(tmp, {**auth, "RATE_LIMIT_STORAGE": redis.url}, workers)
        try:
            for s in (floor, *servers.values()):
                s.wait_ready(workers=args.workers)
            key = {"X-API-Key": API_KEY}
            targets = [Target("floor", floor.url, {}, (POST, RTC, PING)),
                       Target("service", servers["service"].url, {}, (POST, RTC, PING)),
                       Target("rl-memory", servers["rl-memory"].url, key, (POST, RTC))]
            if "rl-redis" in servers:
                targets.append(Target("rl-redis", servers["rl-redis"].url, key, (POST, RTC)))
            for rnd in range(args.rounds):
                order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
                for route in (POST, RTC, PING):
                    for t in order:
                        if route not in t.routes:
                            continue
                        r = wrk(t.url, route, t.headers, args, post_script, 64)
                        t.runs.setdefault(route, []).append(r)
                        print(f"round {rnd + 1}/{args.rounds}  {t.name:9s} {route:20s} c64   {r['rps']:>8,.0f} req/s  "
                              f"p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  non-2xx {r['non2xx']}"
                              + (f"  errors: {r['errors']}" if r["errors"] else ""), flush=True)
                for t in order[:]:
                    if t.name not in ("floor", "service"):
                        continue
                    for conns in (64, 1000):
                        r = wrk(t.url, POST, {}, args, post_script, conns)
                        overload.setdefault((t.name, conns), []).append(r)
                        print(f"round {rnd + 1}/{args.rounds}  {t.name:9s} {POST:20s} c{conns:<5d}"
                              f"{r['rps']:>8,.0f} req/s  2xx {r['rps_2xx']:>8,.0f}/s  p50 {r['p50']:7.2f} ms  "
                              f"p99 {r['p99']:8.2f} ms  timeouts {r['timeouts']}  non-2xx {r['non2xx']}", flush=True)
            shed["service"] = shed_count(servers["service"].url)
        finally:
            for s in servers.values():
                s.stop()
            floor.stop()
            if redis is not None:
                redis.stop()

    by_name = {t.name: t for t in targets}
    ok = True
    summary: list[dict[str, Any]] = []

    table = ["| target | route | connections | req/s | p50 ms | p99 ms | non-2xx | timeouts |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    checks = ["| check | measured | target | |", "|---|---:|---|---|"]

    def report(label: str, value: float, goal: str, met: bool) -> None:
        nonlocal ok
        ok &= met
        print(f"  {label:58s} {value:8.2f}   {goal:14s} {'met' if met else 'MISSED'}")
        summary.append({"check": label, "value": value, "target": goal, "met": met})
        checks.append(f"| {label} | {value:.2f} | {goal} | {'met' if met else '**missed**'} |")

    print("\n# medians over the rounds (req/s, p50 ms, p99 ms)")
    rows = [(t.name, route, 64, runs) for t in targets for route, runs in t.runs.items()]
    rows += [(name, POST, conns, runs) for (name, conns), runs in overload.items()]
    for name, route, conns, runs in rows:
        non2xx, timeouts = sum(r["non2xx"] for r in runs), sum(r["timeouts"] for r in runs)
        print(f"  {name:9s} {route:20s} c{conns:<4d} {med(runs, 'rps'):>9,.0f} {med(runs, 'p50'):8.2f} "
              f"{med(runs, 'p99'):8.2f}  non-2xx {non2xx}  timeouts {timeouts}")
        table.append(f"| {name} | {route} | {conns} | {med(runs, 'rps'):,.0f} | {med(runs, 'p50'):.2f} | "
                     f"{med(runs, 'p99'):.2f} | {non2xx} | {timeouts} |")
    print("\n# ratios of medians, against the targets")
    floor_t, service = by_name["floor"], by_name["service"]
    for route in (POST, RTC, PING):
        ratio = med(service.runs[route], "rps") / med(floor_t.runs[route], "rps")
        report(f"service / floor, {route}", ratio, ">= 0.8", ratio >= 0.8)
        p99 = med(service.runs[route], "p99") / med(floor_t.runs[route], "p99")
        report(f"service p99 / floor p99, {route}", p99, "<= 1.5", p99 <= 1.5)
        non2xx = sum(r["non2xx"] for r in service.runs[route])
        report(f"service non-2xx, {route}", non2xx, "0", non2xx == 0)
    for route in (POST, RTC):
        ratio = med(by_name["rl-memory"].runs[route], "rps") / med(floor_t.runs[route], "rps")
        report(f"rl-memory (API key + RATE_LIMIT) / floor, {route}", ratio, ">= 0.7", ratio >= 0.7)
    if "rl-redis" in by_name:
        ratio = med(by_name["rl-redis"].runs[POST], "rps") / med(by_name["rl-memory"].runs[POST], "rps")
        report(f"rl-redis / rl-memory, {POST}", ratio, ">= 0.7", ratio >= 0.7)
        print(f"  (p99 rl-redis {med(by_name['rl-redis'].runs[POST], 'p99'):.2f} ms, rl-memory "
              f"{med(by_name['rl-memory'].runs[POST], 'p99'):.2f} ms)")
    c1000 = overload[("service", 1000)]
    report("service c1000: requests unanswered within 5 s", sum(r["timeouts"] for r in c1000), "0",
           sum(r["timeouts"] for r in c1000) == 0)
    report("service c1000: p99 (s)", med(c1000, "p99") / 1000, "<= 1", med(c1000, "p99") <= 1000)
    ratio = med(c1000, "rps_2xx") / med(overload[("service", 64)], "rps_2xx")
    report("service c1000 2xx throughput / c64", ratio, ">= 0.8", ratio >= 0.8)
    floor_c1000 = overload[("floor", 1000)]
    print(f"  (floor c1000 for reference: p99 {med(floor_c1000, 'p99') / 1000:.2f} s, timeouts "
          f"{sum(r['timeouts'] for r in floor_c1000)}, {med(floor_c1000, 'rps'):,.0f} req/s; "
          f"service responses shed during the run: {shed.get('service', 0):.0f})")
    print(f"\n# command: {command}")
    if args.markdown:
        write_section("bench_server", command, f"{args.workers} workers per server; wrk -t{args.threads} "
                      f"-d{args.duration}s --timeout 5s; {args.rounds} rounds, interleaved; medians.\n\n"
                      + "\n".join(table) + "\n\nRatios of medians against the targets:\n\n" + "\n".join(checks))
        print(f"# wrote the results into {DOC_NAME}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "command": command, "summary": summary,
                                         "runs": {t.name: t.runs for t in targets},
                                         "overload": {f"{k[0]} c{k[1]}": v for k, v in overload.items()}},
                                        indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
