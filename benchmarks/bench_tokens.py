#!/usr/bin/env python3
"""Token benchmark: the compiled core, the pure-Python core and Agora's own
Python builder (``agoraiotools`` on PyPI), in one process, interleaved.

    python -m benchmarks.bench_tokens [--quick] [--rounds N] [--batch-ms MS] [--json]

Every contender of every operation is timed in short batches, round-robin
(the order rotates each round), many rounds: drift in the machine's speed
(other jobs on a shared box, frequency changes) hits all contenders alike, so
the ratios of the medians are stable where back-to-back runs were not. The
public builders are timed (validation, salt, clock, core), with the core
switched through ``agora_token._backend`` between batches.

The *floor* is what any implementation calling the primitives from Python
pays for the same RTC token: one ``zlib.compress`` + three ``hmac.digest`` +
one base64 encode, cycling through 256 real payloads (varying salts, as the
builders produce).

Needs ``pip install -e '.[bench]'`` for agoraiotools (skipped, with a note,
when missing). Default run: about 1.5 minutes; ``--quick``: about 10 s.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hmac
import itertools
import json
import os
import platform
import statistics
import sys
import time
import warnings
import zlib
from types import ModuleType
from typing import Any, Callable

import agora_token as at
from agora_token import _backend, _pack_py
from agora_token.legacy import RtcTokenBuilder006
from tests.support.credentials import APP_CERTIFICATE, APP_ID

try:
    from agora_token import _pack
except ImportError:  # pure-Python install
    _pack = None

CERT = APP_CERTIFICATE
CHANNEL, UID = "test channel 01", 3025904354
CORE_FUNCS = ("build_006", "build_007", "parse_006", "parse_007", "verify_006", "verify_007")

#: (target, numerator, denominator, bound, "<=" | ">="): ratio = median(num) / median(den)
TARGETS = [
    ("compiled RTC build / floor", ("rtc build", "cython"), ("rtc build", "floor"), 0.80, "<="),
    ("agoraiotools / pure-Python, RTC build", ("rtc build", "agoraiotools"), ("rtc build", "python"), 1.3, ">="),
    ("agoraiotools / compiled, RTC build", ("rtc build", "agoraiotools"), ("rtc build", "cython"), 3.5, ">="),
]
INFO_RATIOS = [
    ("pure-Python / compiled, RTC build", ("rtc build", "python"), ("rtc build", "cython")),
    ("pure-Python / compiled, verify 007", ("verify 007", "python"), ("verify 007", "cython")),
    ("pure-Python / compiled, parse 007", ("parse 007", "python"), ("parse 007", "cython")),
    ("agoraiotools / compiled, RTM build", ("rtm build", "agoraiotools"), ("rtm build", "cython")),
    ("agoraiotools / compiled, RTC build 006", ("rtc build 006", "agoraiotools"), ("rtc build 006", "cython")),
]


def use_core(core: ModuleType) -> Callable[[], None]:
    """A setup step pointing the library at ``core``."""
    def setup() -> None:
        for name in CORE_FUNCS:
            setattr(_backend, name, getattr(core, name))
    return setup


def floor_case() -> Callable[[], Any]:
    """zlib.compress + 3 hmac.digest + b64 of the RTC payload, 256 varying payloads."""
    items = []
    for salt in range(1, 257):
        tok = at.AccessToken(APP_ID, CERT, expire=3600, issue_ts=1_700_000_000, salt=salt * 7919)
        svc = at.ServiceRtc(CHANNEL, UID)
        for p in (1, 2, 3, 4):
            svc.add_privilege(p, 3600)
        tok.add_service(svc)
        payload = zlib.decompress(base64.b64decode(tok.build()[3:]))
        items.append((payload[34 + 34:34 + 38], payload[34 + 42:34 + 46], payload[34:], payload))
    cert = CERT.encode()
    ring = itertools.cycle(items)
    compress, digest, b64 = zlib.compress, hmac.digest, base64.b64encode

    def floor() -> Any:
        ts, salt, info, payload = next(ring)
        k = digest(salt, digest(ts, cert, "sha256"), "sha256")
        digest(k, info, "sha256")
        return b64(compress(payload))

    return floor


def load_agoraiotools() -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import agoraiotools
    except ImportError:
        return None
    return agoraiotools


def check_same_structure(official: ModuleType) -> str:
    """agoraiotools' RTC AccessToken2 parses to the same token as ours (salt and time aside)."""
    theirs = at.parse(official.RtcTokenBuilder2.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600))
    ours = at.parse(at.RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600))
    assert isinstance(theirs, at.AccessToken) and isinstance(ours, at.AccessToken)
    same = (theirs.app_id, theirs.expire, theirs.services) == (ours.app_id, ours.expire, ours.services)
    if not same:
        raise SystemExit(f"agoraiotools' RTC token differs in structure: {theirs!r} vs {ours!r}")
    return f"same structure (app id, expire, services); salts {theirs.salt} / {ours.salt}, issue times differ"


def contenders(official: ModuleType | None) -> dict[str, dict[str, tuple[Callable[[], None], Callable[[], Any]]]]:
    """operation -> contender -> (setup, call)."""
    def noop() -> None:
        return None

    B = at.RtcTokenBuilder
    rtc = B.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600)
    cores = {"python": _pack_py} if _pack is None else {"cython": _pack, "python": _pack_py}
    ops: dict[str, dict[str, tuple[Callable[[], None], Callable[[], Any]]]] = {
        "rtc build": {}, "rtm build": {}, "rtc build 006": {}, "parse 007": {}, "verify 007": {}}
    for name, core in cores.items():
        setup = use_core(core)
        ops["rtc build"][name] = (setup, lambda: B.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600))
        ops["rtm build"][name] = (setup, lambda: at.RtmTokenBuilder.build_token(APP_ID, CERT, "alice", 3600))
        ops["rtc build 006"][name] = (setup, lambda: RtcTokenBuilder006.build_token_with_uid(
            APP_ID, CERT, "demo channel", 1760031827, 1, 1700003600))
        ops["parse 007"][name] = (setup, lambda: at.parse(rtc))
        ops["verify 007"][name] = (setup, lambda: at.verify(rtc, CERT))
    if official is not None:
        ops["rtc build"]["agoraiotools"] = (noop, lambda: official.RtcTokenBuilder2.build_token_with_uid(
            APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600))
        ops["rtm build"]["agoraiotools"] = (noop, lambda: official.RtmTokenBuilder2.build_token(
            APP_ID, CERT, "alice", 3600))
        ops["rtc build 006"]["agoraiotools"] = (noop, lambda: official.RtcTokenBuilder.buildTokenWithUid(
            APP_ID, CERT, "demo channel", 1760031827, 1, 1700003600))
    ops["rtc build"]["floor"] = (noop, floor_case())
    return ops


def calibrate(call: Callable[[], Any], batch_s: float) -> int:
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            call()
        if time.perf_counter() - t >= batch_s / 4:
            return max(1, int(n * batch_s / (time.perf_counter() - t)))
        n *= 2


def run(ops: dict[str, dict[str, tuple[Callable[[], None], Callable[[], Any]]]], rounds: int,
        batch_s: float) -> dict[str, dict[str, list[float]]]:
    slots = [(op, name, setup, call) for op, by in ops.items() for name, (setup, call) in by.items()]
    sizes = {}
    for op, name, setup, call in slots:
        setup()
        call()  # warm up
        sizes[op, name] = calibrate(call, batch_s)
    samples: dict[str, dict[str, list[float]]] = {op: {name: [] for name in by} for op, by in ops.items()}
    start = time.perf_counter()
    step = max(1, rounds // 10)
    for r in range(rounds):
        shift = r % len(slots)
        for op, name, setup, call in slots[shift:] + slots[:shift]:  # rotate the order every round
            n = sizes[op, name]
            setup()
            gc.disable()
            t = time.perf_counter()
            for _ in range(n):
                call()
            elapsed = time.perf_counter() - t
            gc.enable()
            samples[op][name].append(elapsed / n)
        if (r + 1) % step == 0 or r + 1 == rounds:
            print(f"  round {r + 1}/{rounds}  ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    use_core(_pack if _pack is not None else _pack_py)()
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=800, help="interleaved rounds (default 800)")
    ap.add_argument("--batch-ms", type=float, default=6.0, help="time per batch of calls (default 6 ms)")
    ap.add_argument("--quick", action="store_true", help="40 rounds of 3 ms batches (about 10 s)")
    ap.add_argument("--json", action="store_true", help="also print the medians and ratios as JSON")
    ap.add_argument("--markdown", action="store_true", help="write the results into docs/benchmarks.md")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.batch_ms = 40, 3.0
    official = load_agoraiotools()
    command = " ".join([os.path.basename(sys.executable), *sys.argv])
    print(f"# agora-token {at.__version__} token benchmark: {command}")
    print(f"# {platform.platform()}; {platform.machine()} {platform.processor() or ''}; "
          f"{os.cpu_count()} CPUs; Python {platform.python_version()} ({platform.python_implementation()}); "
          f"zlib {zlib.ZLIB_RUNTIME_VERSION}")
    official_text = (getattr(official, "__version__", "installed") if official
                     else "NOT INSTALLED (pip install -e .[bench])")
    print(f"# compiled core: {'not built' if _pack is None else _pack.FEATURES}; agoraiotools: {official_text}")
    if official is not None:
        print(f"# agoraiotools RTC AccessToken2 vs ours: {check_same_structure(official)}")
    print(f"# {args.rounds} interleaved rounds, ~{args.batch_ms:g} ms per batch; medians of per-call times",
          flush=True)
    ops = contenders(official)
    samples = run(ops, args.rounds, args.batch_ms / 1000)
    med = {op: {name: statistics.median(ts) for name, ts in by.items()} for op, by in samples.items()}

    names = ["cython", "python", "agoraiotools", "floor"]
    table = [f"| {'operation':<16} |" + "".join(f" {n + ' µs':>15} |" for n in names),
             f"|{'-' * 18}|" + "".join(f"{'-' * 17}|" for _ in names)]
    for op, by in med.items():
        cells = "".join(f" {by[n] * 1e6:>15.2f} |" if n in by else f" {'-':>15} |" for n in names)
        table.append(f"| {op:<16} |{cells}")
    print("\n" + "\n".join(table))

    def ratio(num: tuple[str, str], den: tuple[str, str]) -> float | None:
        if num[1] not in med[num[0]] or den[1] not in med[den[0]]:
            return None
        return med[num[0]][num[1]] / med[den[0]][den[1]]

    print()
    results: dict[str, Any] = {}
    checks = ["| ratio of medians | measured | target |", "|---|---:|---|"]
    failed = False
    for label, num, den, bound, op in TARGETS:
        value = ratio(num, den)
        results[label] = value
        if value is None:
            print(f"{label:<40} n/a")
            continue
        ok = value <= bound if op == "<=" else value >= bound
        failed |= not ok
        print(f"{label:<40} {value:6.2f}   target {op} {bound:g}   {'met' if ok else 'NOT MET'}")
        checks.append(f"| {label} | {value:.2f} | {op} {bound:g}: {'met' if ok else '**missed**'} |")
    for label, num, den in INFO_RATIOS:
        value = ratio(num, den)
        results[label] = value
        if value is not None:
            print(f"{label:<40} {value:6.2f}")
            checks.append(f"| {label} | {value:.2f} | |")
    if args.markdown:
        from benchmarks.report import write_section

        write_section("bench_tokens", "python -m benchmarks.bench_tokens " + " ".join(sys.argv[1:]),
                      f"{args.rounds} interleaved rounds of ~{args.batch_ms:g} ms batches; median time per call.\n\n"
                      + "\n".join(table) + "\n\n" + "\n".join(checks))
        print("# wrote the results into docs/benchmarks.md")
    if args.json:
        print(json.dumps({"medians_us": {op: {n: t * 1e6 for n, t in by.items()} for op, by in med.items()},
                          "ratios": results}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
