#!/usr/bin/env python3
"""Load/soak benchmark (not a test): mixed traffic against a real
``agora-token-server`` with API-key auth and a per-caller rate limit on.

    .venv/bin/python -m benchmarks.soak                 # 60 s, 1 worker, 32 connections
    .venv/bin/python -m benchmarks.soak --duration 300 --workers 2

Traffic mix (seeded, so runs are comparable): token requests on every route
(``POST /getToken`` rtc/rtm/chat, the deprecated GET routes) from 100
well-behaved API keys; ``/verifyToken`` and ``/encryption``; one "hot" key
that exceeds its budget (429s); requests without a key (401); malformed
requests (400); ``/healthz`` and ``/ping``; and a ``/metrics`` scrape every
second. It reports requests/s, counts by status, checks that no response was
a 5xx, and reports the server's resident memory (VmRSS from ``/proc``, summed
over the supervisor and its workers) idle after start-up, after a warm-up
(baseline), and at the end, with the growth over the run. Exit code 1 if any
5xx was seen or memory grew by 10 % or more from the baseline.

Traffic goes to 127.0.0.1 only, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import aiohttp

from agora_token_server.testing import LiveServer
from tests.support.credentials import APP_CERTIFICATE, APP_ID

ROOT = Path(__file__).resolve().parents[1]
KEYS = [f"soak-key-{i:03d}-0123456789abcdef" for i in range(101)]
HOT_KEY = KEYS[0]


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            pass
    return total


def pick(rng: random.Random, sample_token: str) -> tuple[str, str, Optional[dict[str, str]], Any, str]:
    """(method, path, headers, json body, kind) of one request of the mix."""
    key = {"X-API-Key": rng.choice(KEYS[1:])}
    uid = str(rng.randrange(1, 10**6))
    r = rng.random()
    if r < 0.30:
        return "POST", "/getToken", key, {"tokenType": "rtc", "channel": f"ch{rng.randrange(50)}",
                                          "role": rng.choice(["publisher", "subscriber"]), "uid": uid}, "getToken rtc"
    if r < 0.40:
        return "POST", "/getToken", {"Authorization": f"Bearer {key['X-API-Key']}"}, \
            {"tokenType": "rtm", "uid": f"user{uid}", "channel": "lobby"}, "getToken rtm"
    if r < 0.45:
        return "POST", "/getToken", key, {"tokenType": "chat", "uid": f"user{uid}"}, "getToken chat"
    if r < 0.55:
        return "GET", f"/rtc/ch{rng.randrange(50)}/publisher/uid/{uid}/?expiry=600", key, None, "GET rtc"
    if r < 0.58:
        return "GET", f"/rte/lobby/subscriber/userAccount/user{uid}/", key, None, "GET rte"
    if r < 0.60:
        return "GET", f"/rtm/user{uid}/", key, None, "GET rtm"
    if r < 0.62:
        return "GET", "/chat/app/", key, None, "GET chat app"
    if r < 0.67:
        return "POST", "/verifyToken", key, {"token": sample_token}, "verifyToken"
    if r < 0.70:
        return "GET", "/encryption", key, None, "encryption"
    if r < 0.80:
        return "POST", "/getToken", {"X-API-Key": HOT_KEY}, {"tokenType": "chat"}, "hot key (429s)"
    if r < 0.85:
        return "POST", "/getToken", None, {"tokenType": "chat"}, "no key (401)"
    if r < 0.90:
        bad = rng.choice([{"tokenType": "rtc", "uid": "1"}, {"tokenType": "nope"},
                          {"tokenType": "rtc", "channel": "c", "uid": "4294967296"}])
        return "POST", "/getToken", key, bad, "bad input (400)"
    if r < 0.95:
        return "GET", "/healthz", None, None, "healthz"
    return "GET", "/ping", None, None, "ping"


async def worker(session: aiohttp.ClientSession, base: str, deadline: float, seed: int, sample: str,
                 statuses: Counter[int], kinds: Counter[str], failures: list[str]) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        method, path, headers, body, kind = pick(rng, sample)
        try:
            async with session.request(method, base + path, headers=headers, json=body,
                                       allow_redirects=False) as resp:
                await resp.read()
                statuses[resp.status] += 1
                kinds[f"{kind} -> {resp.status}"] += 1
                if resp.status >= 500:
                    failures.append(f"{method} {path}: {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            statuses[0] += 1
            failures.append(f"{method} {path}: {type(exc).__name__}: {exc}")


async def scraper(session: aiohttp.ClientSession, base: str, deadline: float, statuses: Counter[int]) -> str:
    last = ""
    while time.monotonic() < deadline:
        async with session.get(base + "/metrics") as resp:
            last = await resp.text()
            statuses[resp.status] += 1
        await asyncio.sleep(1.0)
    return last


async def drive(base: str, seconds: float, concurrency: int,
                seed: int) -> tuple[Counter[int], Counter[str], list[str], str]:
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    failures: list[str] = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency + 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        async with session.post(base + "/getToken", json={"tokenType": "rtc", "channel": "c", "uid": "1"},
                                headers={"X-API-Key": KEYS[1]}) as resp:
            sample = json.loads(await resp.text())["token"]
        deadline = time.monotonic() + seconds
        tasks = [worker(session, base, deadline, seed + i, sample, statuses, kinds, failures)
                 for i in range(concurrency)]
        results = await asyncio.gather(scraper(session, base, deadline, statuses), *tasks)
    return statuses, kinds, failures, str(results[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of measured traffic (default 60)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of traffic before the memory baseline")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rate-limit", default="100/s", help="RATE_LIMIT per caller (default 100/s)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {"APP_ID": APP_ID, "APP_CERTIFICATE": APP_CERTIFICATE, "AUTH_API_KEYS": ",".join(KEYS),
           "RATE_LIMIT": args.rate_limit}
    server = LiveServer(work, env, ("--workers", str(args.workers)))
    try:
        server.wait_ready(workers=args.workers)
        base = server.url
        rss_idle = rss_kib(server.proc.pid)
        asyncio.run(drive(base, args.warmup, args.concurrency, args.seed + 10_000))
        rss_start = rss_kib(server.proc.pid)
        t0 = time.monotonic()
        statuses, kinds, failures, metrics = asyncio.run(drive(base, args.duration, args.concurrency, args.seed))
        elapsed = time.monotonic() - t0
        rss_end = rss_kib(server.proc.pid)
    finally:
        code = server.stop()

    total = sum(statuses.values())
    fivexx = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
    growth = 100.0 * (rss_end - rss_start) / rss_start if rss_start else 0.0
    print(f"soak: {args.duration:.0f} s, {args.workers} worker(s), {args.concurrency} connections, "
          f"RATE_LIMIT={args.rate_limit}, {len(KEYS)} API keys")
    print(f"requests: {total} in {elapsed:.1f} s = {total / elapsed:,.0f} req/s")
    print("status counts: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    for kind, n in sorted(kinds.items()):
        print(f"  {n:8d}  {kind}")
    issued = [ln for ln in metrics.splitlines() if ln.startswith(("agora_token_tokens_issued_total{",
                                                                  "agora_token_rate_limited_total",
                                                                  "agora_token_auth_failures_total{"))]
    print("server metrics at the end: " + "; ".join(issued))
    print(f"5xx / transport errors: {fivexx}" + (f" (first: {failures[0]})" if failures else ""))
    print(f"RSS (KiB): idle {rss_idle}, after {args.warmup:.0f} s warm-up {rss_start}, end {rss_end}; "
          f"growth over the run {growth:+.1f} % (target < 10 %)")
    print(f"server exit code after SIGTERM: {code}")
    ok = fivexx == 0 and growth < 10.0 and code == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
