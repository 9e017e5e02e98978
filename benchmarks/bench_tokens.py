#!/usr/bin/env python3
"""Token build / parse / verify benchmark, both backends, one run.

    python benchmarks/bench_tokens.py [--quick] [--memory N] [--json]

Prints the median time per call and calls/s for each operation on the
compiled ("cython") and pure-Python ("python") backends, each backend
measured in its own child process of this run, and a *floor* line: one
``zlib.compress`` of the same RTC payload + three ``hmac.digest`` calls + one
base64 encode, the primitives any implementation in Python must call.
Then checks that resident memory stays flat over N builds (default 1,000,000).

Numbers are medians of several repeats; the machine is shared, so compare
the ratios printed, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import timeit
import zlib
from typing import Any, Callable

APP_ID = "3edf87da6dc2bd9a148492b81d6e1f89"
FLOOR = "floor: compress+3 hmac+b64, varying payloads"
FLOOR_FIXED = "floor: same, one fixed payload"
CERT = "62847AC1D94938AD0267CDF6A2D778CD"


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def median_seconds(fn: Callable[[], Any], repeat: int, min_time: float) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(number, int(number * min_time / 0.2))
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number


def cases() -> dict[str, Callable[[], Any]]:
    import agora_token as at
    from agora_token import legacy

    rtc = at.RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "test channel 01", 3025904354, 1, 3600, 3600)
    t006 = legacy.RtcTokenBuilder006.build_token_with_uid(APP_ID, CERT, "demo channel", 1760031827, 1, 1700003600)
    B = at.RtcTokenBuilder
    low = at.AccessToken(APP_ID, CERT, expire=3600)
    svc = at.ServiceRtc("test channel 01", 3025904354)
    for p in (1, 2, 3, 4):
        svc.add_privilege(p, 3600)
    low.add_service(svc)
    return {
        "rtc build (uid, publisher)": lambda: B.build_token_with_uid(APP_ID, CERT, "test channel 01", 3025904354, 1, 3600, 3600),
        "rtc build (account)": lambda: B.build_token_with_user_account(APP_ID, CERT, "test channel 01", "alice@example.com", 2, 3600, 3600),
        "rtc+rtm build": lambda: B.build_token_with_rtm(APP_ID, CERT, "test channel 01", "alice", 1, 3600, 3600),
        "rtm build": lambda: at.RtmTokenBuilder.build_token(APP_ID, CERT, "alice", 3600),
        "rtm build (stream channel)": lambda: at.RtmTokenBuilder.build_token(APP_ID, CERT, "alice", 3600, "ch"),
        "chat user build": lambda: at.ChatTokenBuilder.build_user_token(APP_ID, CERT, "alice", 3600),
        "chat app build": lambda: at.ChatTokenBuilder.build_app_token(APP_ID, CERT, 3600),
        "fpa build": lambda: at.FpaTokenBuilder.build_token(APP_ID, CERT),
        "apaas room-user build": lambda: at.ApaasTokenBuilder.build_room_user_token(APP_ID, CERT, "room", "stu", 1, 3600),
        "AccessToken.build (fixed salt/ts: one payload)": low.build,
        "parse 007": lambda: at.parse(rtc),
        "verify 007": lambda: at.verify(rtc, CERT),
        "rtc build 006": lambda: legacy.RtcTokenBuilder006.build_token_with_uid(APP_ID, CERT, "demo channel", 1760031827, 1, 1700003600),
        "parse 006": lambda: at.parse(t006),
        "verify 006": lambda: at.verify(t006, CERT, channel_name="demo channel", uid=1760031827),
    }


def floor_case(vary: bool) -> Callable[[], Any]:
    """The unavoidable primitives for the RTC publisher token, called from Python:
    one zlib.compress of the token payload, three hmac.digest, one base64 encode.

    ``vary=True`` cycles through 256 real payloads with different salts, as
    the builders produce (a fresh salt, hence a fresh signature, per token);
    ``vary=False`` compresses one payload again and again, which lets the CPU's
    branch predictors learn zlib's path and flatters the floor. Compare each
    floor with the matching build.
    """
    import itertools

    import agora_token as at

    items = []
    for salt in range(1, 257 if vary else 2):
        tok = at.AccessToken(APP_ID, CERT, expire=3600, issue_ts=1_700_000_000, salt=salt * 7919)
        svc = at.ServiceRtc("test channel 01", 3025904354)
        for p in (1, 2, 3, 4):
            svc.add_privilege(p, 3600)
        tok.add_service(svc)
        payload = zlib.decompress(base64.b64decode(tok.build()[3:]))
        items.append((payload[34 + 34:34 + 38], payload[34 + 42:34 + 46], payload[34:], payload))
    cert = CERT.encode()
    ring = itertools.cycle(items)
    compress = zlib.compress
    digest = hmac.digest
    b64 = base64.b64encode

    def floor() -> Any:
        ts, salt, info, payload = next(ring)
        k = digest(salt, digest(ts, cert, "sha256"), "sha256")
        digest(k, info, "sha256")
        return b64(compress(payload))

    return floor


def child(repeat: int, min_time: float, memory: int) -> dict[str, Any]:
    import agora_token as at

    out: dict[str, Any] = {"backend": at.BACKEND, "ops": {}}
    for name, fn in cases().items():
        out["ops"][name] = median_seconds(fn, repeat, min_time)
    out["ops"][FLOOR] = median_seconds(floor_case(True), repeat, min_time)
    out["ops"][FLOOR_FIXED] = median_seconds(floor_case(False), repeat, min_time)
    if memory:
        build = cases()["rtc build (uid, publisher)"]
        for _ in range(20000):  # warm up allocator and caches
            build()
        before = rss_kib()
        for _ in range(memory):
            build()
        out["memory"] = {"builds": memory, "rss_before_kib": before, "rss_after_kib": rss_kib()}
    return out


def run_child(env_extra: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, **env_extra)
    cmd = [sys.executable, __file__, "--child", "--repeat", str(args.repeat),
           "--min-time", str(args.min_time), "--memory", str(args.memory)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat (approx.)")
    ap.add_argument("--memory", type=int, default=1_000_000, help="builds for the memory check (0: skip)")
    ap.add_argument("--quick", action="store_true", help="repeat 3, 0.05 s, 100k-build memory check")
    ap.add_argument("--json", action="store_true", help="print raw JSON results")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.min_time, args.memory = 3, 0.05, min(args.memory, 100_000)
    if args.child:
        print(json.dumps(child(args.repeat, args.min_time, args.memory)))
        return 0

    results = {"cython": run_child({"AGORA_TOKEN_NO_EXTENSIONS": "0"}, args),
               "python": run_child({"AGORA_TOKEN_NO_EXTENSIONS": "1"}, args)}
    if results["cython"]["backend"] != "cython":
        print("WARNING: the compiled extension is not built; 'cython' column is the fallback", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0

    c, p = results["cython"]["ops"], results["python"]["ops"]
    print(f"# agora-token benchmark — Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    print(f"# median of {args.repeat} repeats; µs per call (calls/s)")
    print(f"| {'operation':<52} | {'cython µs':>10} | {'cython /s':>10} | {'python µs':>10} | {'python /s':>10} | {'py/cy':>6} |")
    print(f"|{'-' * 54}|{'-' * 12}|{'-' * 12}|{'-' * 12}|{'-' * 12}|{'-' * 8}|")
    for name in c:
        print(f"| {name:<52} | {c[name] * 1e6:>10.2f} | {1 / c[name]:>10,.0f} | {p[name] * 1e6:>10.2f} | "
              f"{1 / p[name]:>10,.0f} | {p[name] / c[name]:>5.1f}x |")
    # The floor is pure Python calling C primitives: take it from the child
    # without the extension loaded, so nothing else shares its heap.
    floor, floor_fixed = p[FLOOR], p[FLOOR_FIXED]
    rtc = c["rtc build (uid, publisher)"]
    print()
    print(f"floor (varying payloads), µs:        {floor * 1e6:.2f}   (fixed payload: {floor_fixed * 1e6:.2f})")
    print(f"compiled RTC build / floor:          {rtc / floor:.2f}  (target <= 0.80)")
    print(f"compiled fixed-payload build / fixed floor: "
          f"{c['AccessToken.build (fixed salt/ts: one payload)'] / floor_fixed:.2f}")
    print(f"pure-Python / compiled, RTC build:   {p['rtc build (uid, publisher)'] / rtc:.1f}x  (target >= 2)")
    print(f"pure-Python / compiled, verify 007:  {p['verify 007'] / c['verify 007']:.1f}x  (target >= 3)")
    for name, r in results.items():
        m = r.get("memory")
        if m:
            growth = (m["rss_after_kib"] - m["rss_before_kib"]) / m["rss_before_kib"] * 100
            print(f"memory, {name}: {m['builds']:,} RTC builds: RSS {m['rss_before_kib']:,} KiB -> "
                  f"{m['rss_after_kib']:,} KiB ({growth:+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
