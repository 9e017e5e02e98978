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

    python -m benchmarks.bench_server [--duration 4] [--rounds 5] [--runs 1] [--workers 2] [--no-tracing] [--quick]

The tracing targets (``--no-tracing`` leaves them out): the service with
``OTEL_TRACES_EXPORTER=none`` (tracing off, the otel extra installed) against
the default service, >= 0.97x or a spread over ``--runs`` that includes 1.0;
and, reported, traced with OTLP to a stand-in collector
(``benchmarks/otlp_sink.py``) at sampling 0.01 and 1.0.

Needs ``wrk`` and ``redis-server`` (Debian packages ``wrk``, ``redis-server``;
without redis-server the Redis target is skipped and said so).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Optional

from agora_token_server.testing import LiveServer, free_port, request
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
#: the tracing targets: off (the extra installed, ``OTEL_TRACES_EXPORTER=none``), and on at these sampling ratios
OTEL_OFF = "otel-off"
TRACED = {"otel-0.01": 0.01, "otel-1.0": 1.0}


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


def start_sink(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The stand-in OTLP collector (benchmarks/otlp_sink.py) on a free loopback port."""
    port = free_port()
    log = open(tmp / "otlp-sink.log", "wb")  # noqa: SIM115 - the process's output, closed with the directory
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "otlp_sink.py"), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the OTLP sink did not start:\n" + (tmp / "otlp-sink.log").read_text())


def tracing_env(endpoint: Optional[str], ratio: Optional[float]) -> dict[str, str]:
    """Tracing off (``OTEL_TRACES_EXPORTER=none``, the extra installed) or on, OTLP to the sink, at ``ratio``."""
    if endpoint is None or ratio is None:
        return {"OTEL_TRACES_EXPORTER": "none"}
    return {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(ratio)}


def measure(args: argparse.Namespace, run: int, tmp: Path, post_script: Path, redis: Optional[RedisServer],
            sink: Optional[str]) -> tuple[list[Target], dict[tuple[str, int], list[dict[str, Any]]], float]:
    """One run: fresh servers, ``args.rounds`` interleaved rounds; the targets' runs, the overload runs and
    the number of responses the service shed."""
    overload: dict[tuple[str, int], list[dict[str, Any]]] = {}
    workers = ("--workers", str(args.workers))
    floor = LiveServer(tmp, CREDENTIALS, workers, command=[sys.executable, str(ROOT / "benchmarks" / "floor_app.py")])
    auth = {**CREDENTIALS, "AUTH_API_KEYS": API_KEY, "RATE_LIMIT": HIGH_LIMIT}
    servers = {"service": LiveServer(tmp, CREDENTIALS, workers), "rl-memory": LiveServer(tmp, auth, workers)}
    if redis is not None:
        servers["rl-redis"] = LiveServer(tmp, {**auth, "RATE_LIMIT_STORAGE": redis.url}, workers)
    if args.tracing:
        servers[OTEL_OFF] = LiveServer(tmp, {**CREDENTIALS, **tracing_env(None, None)}, workers)
        if sink is not None:
            for name, ratio in TRACED.items():
                servers[name] = LiveServer(tmp, {**CREDENTIALS, **tracing_env(sink, ratio)}, workers)
    try:
        for s in (floor, *servers.values()):
            s.wait_ready(workers=args.workers)
        key = {"X-API-Key": API_KEY}
        targets = [Target("floor", floor.url, {}, (POST, RTC, PING)),
                   Target("service", servers["service"].url, {}, (POST, RTC, PING)),
                   Target("rl-memory", servers["rl-memory"].url, key, (POST, RTC))]
        if "rl-redis" in servers:
            targets.append(Target("rl-redis", servers["rl-redis"].url, key, (POST, RTC)))
        targets += [Target(name, servers[name].url, {}, (POST, RTC)) for name in (OTEL_OFF, *TRACED)
                    if name in servers]
        for rnd in range(args.rounds):
            order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
            label = f"run {run + 1}/{args.runs} round {rnd + 1}/{args.rounds}"
            for route in (POST, RTC, PING):
                for t in order:
                    if route not in t.routes:
                        continue
                    r = wrk(t.url, route, t.headers, args, post_script, 64)
                    t.runs.setdefault(route, []).append(r)
                    print(f"{label}  {t.name:10s} {route:20s} c64   {r['rps']:>8,.0f} req/s  "
                          f"p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  non-2xx {r['non2xx']}"
                          + (f"  errors: {r['errors']}" if r["errors"] else ""), flush=True)
            for t in order:
                if t.name not in ("floor", "service"):
                    continue
                for conns in (64, 1000):
                    r = wrk(t.url, POST, {}, args, post_script, conns)
                    overload.setdefault((t.name, conns), []).append(r)
                    print(f"{label}  {t.name:10s} {POST:20s} c{conns:<5d}"
                          f"{r['rps']:>8,.0f} req/s  2xx {r['rps_2xx']:>8,.0f}/s  p50 {r['p50']:7.2f} ms  "
                          f"p99 {r['p99']:8.2f} ms  timeouts {r['timeouts']}  non-2xx {r['non2xx']}", flush=True)
        shed = shed_count(servers["service"].url)
    finally:
        for s in servers.values():
            s.stop()
        floor.stop()
    return targets, overload, shed


#: a check's verdict on its values, one per run
Judge = Callable[[list[float]], bool]


def by_median(test: Callable[[float], bool]) -> Judge:
    """The target is met when the median over the runs meets ``test``."""
    return lambda values: test(statistics.median(values))


def median_or_spread_has_one(bound: float) -> Judge:
    """Met when the median is at least ``bound``, or when the runs' spread includes 1.0 (an A/A-like
    comparison: the two sides differ by less than the noise)."""
    return lambda values: statistics.median(values) >= bound or (
        len(values) > 1 and min(values) <= 1.0 <= max(values))


@dataclass
class Check:
    label: str
    goal: str
    judge: Judge
    values: list[float] = field(default_factory=list)


Ratio = tuple[str, str, float, Judge]


def checks_of(targets: list[Target], overload: dict[tuple[str, int], list[dict[str, Any]]]) -> list[Ratio]:
    """The ratios of one run: (label, target, value, judge); a target of "" is reported, not judged."""
    by = {t.name: t for t in targets}
    out: list[Ratio] = []

    def ratio(a: str, b: str, route: str, key: str = "rps") -> float:
        return med(by[a].runs[route], key) / med(by[b].runs[route], key)

    at_least = {g: by_median(lambda v, g=g: v >= g) for g in (0.7, 0.8)}
    zero = by_median(lambda v: v == 0)
    reported = by_median(lambda v: True)
    for route in (POST, RTC, PING):
        out.append((f"service / floor, {route}", ">= 0.8", ratio("service", "floor", route), at_least[0.8]))
        out.append((f"service p99 / floor p99, {route}", "<= 1.5", ratio("service", "floor", route, "p99"),
                    by_median(lambda v: v <= 1.5)))
        out.append((f"service non-2xx, {route}", "0", sum(r["non2xx"] for r in by["service"].runs[route]), zero))
    for route in (POST, RTC):
        out.append((f"rl-memory (API key + RATE_LIMIT) / floor, {route}", ">= 0.7",
                    ratio("rl-memory", "floor", route), at_least[0.7]))
    if "rl-redis" in by:
        out.append((f"rl-redis / rl-memory, {POST}", ">= 0.7", ratio("rl-redis", "rl-memory", POST), at_least[0.7]))
    if OTEL_OFF in by:
        for route in (POST, RTC):
            out.append((f"tracing off ({OTEL_OFF}) / service, {route}", ">= 0.97 (or spread has 1)",
                        ratio(OTEL_OFF, "service", route), median_or_spread_has_one(0.97)))
    for name in TRACED:
        if name in by:
            for route in (POST, RTC):
                out.append((f"{name} / service, {route}", "", ratio(name, "service", route), reported))
    c1000 = overload[("service", 1000)]
    out.append(("service c1000: requests unanswered within 5 s", "0", sum(r["timeouts"] for r in c1000), zero))
    out.append(("service c1000: p99 (s)", "<= 1", med(c1000, "p99") / 1000, by_median(lambda v: v <= 1)))
    out.append(("service c1000 2xx throughput / c64", ">= 0.8",
                med(c1000, "rps_2xx") / med(overload[("service", 64)], "rps_2xx"), at_least[0.8]))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=4, help="seconds per wrk run (default 4)")
    p.add_argument("--rounds", type=int, default=5, help="rounds over every target and route (default 5)")
    p.add_argument("--runs", type=int, default=1,
                   help="independent runs (fresh servers each), for the spread of the ratios (default 1)")
    p.add_argument("--workers", type=int, default=2, help="worker processes per server (default 2)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--no-tracing", dest="tracing", action="store_false",
                   help="leave out the tracing targets (off, and on at sampling 0.01 and 1.0)")
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

    traced = args.tracing and find_spec("opentelemetry.exporter.otlp.proto.http") is not None
    command = "python -m benchmarks.bench_server " + " ".join(sys.argv[1:])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {machine()}", flush=True)
    print(f"# agora_token backend {agora_token.BACKEND}; {args.workers} workers per server; wrk -t{args.threads} "
          f"-d{args.duration}s --timeout 5s; {args.runs} run(s) of {args.rounds} rounds, interleaved", flush=True)
    if args.tracing and not traced:
        print("# the otel extra is not installed: only the tracing-off target runs", flush=True)
    results: list[tuple[list[Target], dict[tuple[str, int], list[dict[str, Any]]], float]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print("# starting the floor app, redis-server, the OTLP sink and the service configurations ...", flush=True)
        redis = RedisServer(tmp).start() if redis_binary() else None
        if redis is None:
            print("# redis-server is not installed: the rl-redis target is skipped", flush=True)
        sink = start_sink(tmp) if traced else None
        post_script = tmp / "post.lua"  # the POST /getToken body
        post_script.write_text('wrk.method = "POST"\n'
                               f"wrk.body = {json.dumps(ROUTES[POST][2])}\n"
                               'wrk.headers["Content-Type"] = "application/json"\n')
        try:
            for run in range(args.runs):
                results.append(measure(args, run, tmp, post_script, redis, sink[1] if sink else None))
        finally:
            if redis is not None:
                redis.stop()
            if sink is not None:
                sink[0].terminate()
                sink[0].wait(10)
                print("# " + (tmp / "otlp-sink.log").read_text().strip().splitlines()[-1], flush=True)

    table = ["| target | route | connections | req/s | p50 ms | p99 ms | non-2xx | timeouts |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    print("\n# medians over the rounds of every run (req/s, p50 ms, p99 ms)")
    pooled: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for targets, overload, _ in results:
        for t in targets:
            for route, runs in t.runs.items():
                pooled.setdefault((t.name, route, 64), []).extend(runs)
        for (name, conns), runs in overload.items():
            pooled.setdefault((name, POST, conns), []).extend(runs)
    for (name, route, conns), runs in pooled.items():
        non2xx, timeouts = sum(r["non2xx"] for r in runs), sum(r["timeouts"] for r in runs)
        print(f"  {name:10s} {route:20s} c{conns:<4d} {med(runs, 'rps'):>9,.0f} {med(runs, 'p50'):8.2f} "
              f"{med(runs, 'p99'):8.2f}  non-2xx {non2xx}  timeouts {timeouts}")
        table.append(f"| {name} | {route} | {conns} | {med(runs, 'rps'):,.0f} | {med(runs, 'p50'):.2f} | "
                     f"{med(runs, 'p99'):.2f} | {non2xx} | {timeouts} |")

    checks: dict[str, Check] = {}
    for targets, overload, _ in results:
        for label, goal, value, judge in checks_of(targets, overload):
            checks.setdefault(label, Check(label, goal, judge)).values.append(value)
    ok = True
    summary: list[dict[str, Any]] = []
    lines = ["| check | median of runs | spread (runs) | target | |", "|---|---:|---|---|---|"]
    print(f"\n# ratios of medians, per run, against the targets ({args.runs} run(s): median, spread)")
    for c in checks.values():
        value = statistics.median(c.values)
        spread = f"{min(c.values):.2f}-{max(c.values):.2f}" if len(c.values) > 1 else ""
        met = c.judge(c.values)
        if c.goal:
            ok &= met
        verdict = ("met" if met else "MISSED") if c.goal else ""
        print(f"  {c.label:58s} {value:8.2f}  {spread:11s}  {c.goal:24s} {verdict}")
        summary.append({"check": c.label, "value": value, "runs": c.values, "target": c.goal, "met": met})
        lines.append(f"| {c.label} | {value:.2f} | {spread} | {c.goal} | "
                     f"{('met' if met else '**missed**') if c.goal else ''} |")
    floor_c1000 = pooled[("floor", POST, 1000)]
    print(f"  (floor c1000 for reference: p99 {med(floor_c1000, 'p99') / 1000:.2f} s, timeouts "
          f"{sum(r['timeouts'] for r in floor_c1000)}, {med(floor_c1000, 'rps'):,.0f} req/s; "
          f"service responses shed: {', '.join(f'{r[2]:.0f}' for r in results)})")
    print(f"\n# command: {command}")
    if args.markdown:
        write_section("bench_server", command, f"{args.workers} workers per server; wrk -t{args.threads} "
                      f"-d{args.duration}s --timeout 5s; {args.runs} run(s) (fresh servers each) of "
                      f"{args.rounds} rounds, interleaved. Medians over all rounds:\n\n" + "\n".join(table)
                      + "\n\nRatios of medians, the median over the runs and their spread, against the targets:\n\n"
                      + "\n".join(lines))
        print(f"# wrote the results into {DOC_NAME}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "command": command, "summary": summary,
                                         "runs": [{t.name: t.runs for t in r[0]} for r in results],
                                         "overload": [{f"{k[0]} c{k[1]}": v for k, v in r[1].items()}
                                                      for r in results]}, indent=2))
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
