#!/usr/bin/env python3
"""Token benchmark: the compiled core, the pure-Python core, Agora's own
Python builder (``agoraiotools`` on PyPI) and a floor, each in the allocator
state that favours it.

    python -m benchmarks.bench_tokens [--quick] [--runs N] [--rounds N] [--batch-ms MS] [--fresh-rounds N]
                                      [--json] [--markdown]

**The allocator state.** ``zlib.compress`` allocates about 270 KB of deflate
state per call and frees it. glibc hands freed memory at the top of its heap
back to the kernel once it passes a trim threshold, which glibc raises only
after the process frees a large mmap'ed block: so in a process that never did,
every ``zlib.compress`` pays ~19 page faults (3-7x the compression itself),
and in another it pays none. Agora's builder, the floor and the pure-Python
core's fallback all call ``zlib.compress``; a long-running server is usually
in the fast state. So every contender is timed twice and keeps its better
figure, and the output says which one it is:

* **pinned**: the interleaved run below, in a process that re-executes itself
  with ``MALLOC_TOP_PAD_`` and ``MALLOC_TRIM_THRESHOLD_`` pinned (the fast
  state for every contender);
* **fresh**: each contender alone in a fresh process with glibc's defaults,
  importing only what it needs, the contenders in rotation, ``--fresh-rounds``
  times (the state a user's process starts in).

**The main run** times every contender of every operation in short batches,
round-robin (the order rotates each round), many rounds: drift in the
machine's speed (other jobs on a shared box) hits all contenders alike, so the
ratios of the medians are stable where back-to-back runs were not. The public
builders are timed (validation, salt, clock, core), with the core switched
through ``agora_token._backend`` between batches.

The *floor* is what any implementation calling the primitives from Python
pays for the same RTC token: one ``zlib.compress`` + three ``hmac.digest`` +
one base64 encode, cycling through 256 real payloads (varying salts, as the
builders produce). agoraiotools has no verify function: its ``from_string``
(on one reused ``AccessToken``, its fastest use) stands for both its parse and
its verify, which makes the verify ratio a lower bound.

Needs ``pip install -e '.[bench]'`` for agoraiotools (skipped, with a note,
when missing). Default run: about 2 minutes; ``--quick``: about 20 s.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hmac
import importlib
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from types import ModuleType
from typing import Any, Callable

# Only the standard library at the top: a fresh process timing agoraiotools or
# the floor must not import agora_token (its allocation history is the point).
from tests.support.credentials import APP_CERTIFICATE, APP_ID

CERT = APP_CERTIFICATE
CHANNEL, UID = "test channel 01", 3025904354
CORE_FUNCS = ("build_006", "build_007", "parse_006", "parse_007", "verify_006", "verify_007")
#: the fast allocator state, for every contender of the main run
PINS = {"MALLOC_TOP_PAD_": "4000000", "MALLOC_TRIM_THRESHOLD_": "100000000"}
PINNED_MARK = "AGORA_BENCH_PINNED"
OURS = ("cython", "python")
NAMES = ("cython", "python", "agoraiotools", "floor")
OPS = ("rtc build", "rtm build", "rtc build 006", "parse 007", "verify 007")

#: (target, numerator, denominator, bound): ratio = figure(num) / figure(den) >= bound
TARGETS = [
    ("agoraiotools / compiled, RTC build", ("rtc build", "agoraiotools"), ("rtc build", "cython"), 3.5),
    ("agoraiotools / pure-Python, RTC build", ("rtc build", "agoraiotools"), ("rtc build", "python"), 1.5),
    ("agoraiotools from_string / compiled, parse 007", ("parse 007", "agoraiotools"), ("parse 007", "cython"), 3.0),
    ("agoraiotools from_string / compiled, verify 007", ("verify 007", "agoraiotools"), ("verify 007", "cython"), 3.0),
]
INFO_RATIOS = [
    ("compiled / floor, RTC build", ("rtc build", "cython"), ("rtc build", "floor")),
    ("pure-Python / floor, RTC build", ("rtc build", "python"), ("rtc build", "floor")),
    ("pure-Python / compiled, RTC build", ("rtc build", "python"), ("rtc build", "cython")),
    ("pure-Python / compiled, verify 007", ("verify 007", "python"), ("verify 007", "cython")),
    ("pure-Python / compiled, parse 007", ("parse 007", "python"), ("parse 007", "cython")),
    ("agoraiotools / compiled, RTM build", ("rtm build", "agoraiotools"), ("rtm build", "cython")),
    ("agoraiotools / compiled, RTC build 006", ("rtc build 006", "agoraiotools"), ("rtc build 006", "cython")),
]

Case = tuple[Callable[[], None], Callable[[], Any]]  # (setup, call)


def _noop() -> None:
    return None


def load_agoraiotools() -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import agoraiotools
    except ImportError:
        return None
    return agoraiotools


def rtc_payloads() -> list[bytes]:
    """256 real RTC payloads (varying salts) from our builder, for the floor."""
    import agora_token as at

    out = []
    for salt in range(1, 257):
        tok = at.AccessToken(APP_ID, CERT, expire=3600, issue_ts=1_700_000_000, salt=salt * 7919)
        svc = at.ServiceRtc(CHANNEL, UID)
        for p in (1, 2, 3, 4):
            svc.add_privilege(p, 3600)
        tok.add_service(svc)
        out.append(zlib.decompress(base64.b64decode(tok.build()[3:])))
    return out


def floor_case(payloads: list[bytes]) -> Callable[[], Any]:
    """zlib.compress + 3 hmac.digest + b64 of the RTC payload, 256 varying payloads."""
    items = [(p[34 + 34:34 + 38], p[34 + 42:34 + 46], p[34:], p) for p in payloads]
    cert = CERT.encode()
    ring = itertools.cycle(items)
    compress, digest, b64 = zlib.compress, hmac.digest, base64.b64encode

    def floor() -> Any:
        ts, salt, info, payload = next(ring)
        k = digest(salt, digest(ts, cert, "sha256"), "sha256")
        digest(k, info, "sha256")
        return b64(compress(payload))

    return floor


def our_case(op: str, name: str, rtc: str) -> Case:
    """One of our cores on one operation, through the public API."""
    import agora_token as at
    from agora_token import _backend
    from agora_token.legacy import RtcTokenBuilder006

    core = __import__(f"agora_token._pack{'' if name == 'cython' else '_py'}", fromlist=["x"])

    def setup() -> None:
        for func in CORE_FUNCS:
            setattr(_backend, func, getattr(core, func))

    B = at.RtcTokenBuilder
    calls: dict[str, Callable[[], Any]] = {
        "rtc build": lambda: B.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600),
        "rtm build": lambda: at.RtmTokenBuilder.build_token(APP_ID, CERT, "alice", 3600),
        "rtc build 006": lambda: RtcTokenBuilder006.build_token_with_uid(
            APP_ID, CERT, "demo channel", 1760031827, 1, 1700003600),
        "parse 007": lambda: at.parse(rtc),
        "verify 007": lambda: at.verify(rtc, CERT),
    }
    return setup, calls[op]


def agora_case(op: str, official: ModuleType, rtc: str) -> Case | None:
    """agoraiotools on one operation (None: it has no such operation)."""
    calls: dict[str, Callable[[], Any]] = {
        "rtc build": lambda: official.RtcTokenBuilder2.build_token_with_uid(
            APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600),
        "rtm build": lambda: official.RtmTokenBuilder2.build_token(APP_ID, CERT, "alice", 3600),
        "rtc build 006": lambda: official.RtcTokenBuilder.buildTokenWithUid(
            APP_ID, CERT, "demo channel", 1760031827, 1, 1700003600),
    }
    if op in ("parse 007", "verify 007"):
        parsed = importlib.import_module(f"{official.__name__}.AccessToken2").AccessToken()  # reused: its fastest use
        calls[op] = lambda: parsed.from_string(rtc)
    return (_noop, calls[op]) if op in calls else None


def make_case(op: str, name: str, official: ModuleType | None, rtc: str,
              payloads: list[bytes] | None) -> Case | None:
    if name in OURS:
        if name == "cython" and not _compiled_core_available():
            return None
        return our_case(op, name, rtc)
    if name == "agoraiotools":
        return agora_case(op, official, rtc) if official is not None else None
    if op == "rtc build" and payloads is not None:
        return _noop, floor_case(payloads)
    return None


def _compiled_core_available() -> bool:
    try:
        import agora_token._pack  # noqa: F401
    except ImportError:
        return False
    return True


def check_same_structure(official: ModuleType) -> str:
    """agoraiotools' RTC AccessToken2 parses to the same token as ours (salt and time aside)."""
    import agora_token as at

    theirs = at.parse(official.RtcTokenBuilder2.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600))
    ours = at.parse(at.RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600))
    assert isinstance(theirs, at.AccessToken) and isinstance(ours, at.AccessToken)
    same = (theirs.app_id, theirs.expire, theirs.services) == (ours.app_id, ours.expire, ours.services)
    if not same:
        raise SystemExit(f"agoraiotools' RTC token differs in structure: {theirs!r} vs {ours!r}")
    return f"same structure (app id, expire, services); salts {theirs.salt} / {ours.salt}, issue times differ"


def calibrate(call: Callable[[], Any], batch_s: float) -> int:
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            call()
        if time.perf_counter() - t >= batch_s / 4:
            return max(1, int(n * batch_s / (time.perf_counter() - t)))
        n *= 2


def timed_batch(call: Callable[[], Any], n: int) -> float:
    """Seconds per call over one batch of ``n`` calls, without the garbage collector."""
    gc.disable()
    t = time.perf_counter()
    for _ in range(n):
        call()
    elapsed = time.perf_counter() - t
    gc.enable()
    return elapsed / n


def run(cases: dict[tuple[str, str], Case], rounds: int, batch_s: float,
        progress: bool = True) -> dict[tuple[str, str], list[float]]:
    slots = list(cases.items())
    sizes = {}
    for key, (setup, call) in slots:
        setup()
        call()  # warm up
        sizes[key] = calibrate(call, batch_s)
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in cases}
    start = time.perf_counter()
    step = max(1, rounds // 10)
    for r in range(rounds):
        shift = r % len(slots)
        for key, (setup, call) in slots[shift:] + slots[:shift]:  # rotate the order every round
            setup()
            samples[key].append(timed_batch(call, sizes[key]))
        if progress and ((r + 1) % step == 0 or r + 1 == rounds):
            print(f"  round {r + 1}/{rounds}  ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return samples


# ------------------------------------------------------------ fresh processes

def fresh_env() -> dict[str, str]:
    """The environment of a fresh process in glibc's default allocator state."""
    return {k: v for k, v in os.environ.items() if k not in PINS and k != PINNED_MARK}


def fresh_child(args: argparse.Namespace) -> int:
    """``--fresh OP NAME``: time one contender alone, print its per-call times (JSON)."""
    op, name = args.fresh
    official = load_agoraiotools() if name == "agoraiotools" else None
    payloads = None
    if name == "floor":
        with open(args.payloads, "rb") as f:
            payloads = [bytes.fromhex(line) for line in f.read().decode().split()]
    case = make_case(op, name, official, args.token, payloads)
    if case is None:
        raise SystemExit(f"no such contender: {op} / {name}")
    samples = run({(op, name): case}, args.rounds, args.batch_ms / 1000, progress=False)
    print(json.dumps(samples[op, name]))
    return 0


def run_fresh(keys: list[tuple[str, str]], rounds: int, batches: int, batch_ms: float, rtc: str,
              payload_file: str) -> dict[tuple[str, str], list[float]]:
    """Each contender in its own fresh process, in rotation, ``rounds`` times:
    the per-call medians of every process."""
    module = __spec__.name if __spec__ is not None else "benchmarks.bench_tokens"
    env = fresh_env()
    out: dict[tuple[str, str], list[float]] = {key: [] for key in keys}
    start = time.perf_counter()
    for r in range(rounds):
        shift = r % len(keys)
        for op, name in keys[shift:] + keys[:shift]:
            cmd = [sys.executable, "-m", module, "--fresh", op, name, "--rounds", str(batches),
                   "--batch-ms", str(batch_ms), "--token", rtc, "--payloads", payload_file]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"fresh process for {op} / {name} failed:\n{done.stderr}")
            out[op, name].append(statistics.median(json.loads(done.stdout)))
        print(f"  fresh processes: round {r + 1}/{rounds}  ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------- report

Medians = dict[tuple[str, str], float]


def kept_of(med_pinned: Medians, med_fresh: Medians) -> dict[tuple[str, str], tuple[float, str]]:
    """Each contender's better state of the two: (seconds per call, "pinned" | "fresh")."""
    kept: dict[tuple[str, str], tuple[float, str]] = {}
    for key, pinned in med_pinned.items():
        fresh = med_fresh.get(key)
        kept[key] = (fresh, "fresh") if fresh is not None and fresh < pinned else (pinned, "pinned")
    return kept


def report(runs: list[tuple[Medians, Medians]], args: argparse.Namespace) -> int:
    """The tables (medians over the runs) and the ratios: per run from its kept
    figures, then their median and spread across the runs."""
    kept_runs = [kept_of(p, f) for p, f in runs]
    kept: dict[tuple[str, str], tuple[float, str]] = {}
    for key in kept_runs[0]:
        states = [k[key][1] for k in kept_runs]
        state = max(set(states), key=states.count)
        kept[key] = (statistics.median(k[key][0] for k in kept_runs),
                     state if states.count(state) == len(states) else f"{state} {states.count(state)}/{len(states)}")
    med_pinned = {key: statistics.median(p[key] for p, _ in runs) for key in runs[0][0]}
    fresh_keys = set.intersection(*(set(f) for _, f in runs))  # a contender a fresh run lacks: none
    med_fresh = {key: statistics.median(f[key] for _, f in runs) for key in fresh_keys}

    table = [f"| {'operation':<16} |" + "".join(f" {n + ' µs':>22} |" for n in NAMES),
             f"|{'-' * 18}|" + "".join(f"{'-' * 23}:|" for _ in NAMES)]
    states = ["| operation | contender | pinned µs | fresh process µs | kept |", "|---|---|---:|---:|---|"]
    for op in OPS:
        cells = []
        for n in NAMES:
            if (op, n) in kept:
                value, state = kept[op, n]
                cells.append(f" {f'{value * 1e6:.2f} ({state})':>22} |")
                fresh = med_fresh.get((op, n))
                states.append(f"| {op} | {n} | {med_pinned[op, n] * 1e6:.2f} | "
                              f"{'-' if fresh is None else f'{fresh * 1e6:.2f}'} | {state} |")
            else:
                cells.append(f" {'-':>22} |")
        table.append(f"| {op:<16} |" + "".join(cells))
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(states))

    def ratios(num: tuple[str, str], den: tuple[str, str]) -> list[float]:
        return [k[num][0] / k[den][0] for k in kept_runs if num in k and den in k]

    print()
    results: dict[str, Any] = {}
    many = len(runs) > 1
    checks = ["| ratio (kept figures) | median of runs | spread (runs) | target |", "|---|---:|---|---|"]
    failed = False
    for label, num, den, bound in [*TARGETS, *((label, num, den, None) for label, num, den in INFO_RATIOS)]:
        values = ratios(num, den)
        if not values:
            results[label] = None
            if bound is not None:
                print(f"{label:<50} n/a")
            continue
        value = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}" if many else ""
        results[label] = {"median": value, "runs": values}
        if bound is None:
            print(f"{label:<50} {value:6.2f}  {spread}")
            checks.append(f"| {label} | {value:.2f} | {spread} | |")
            continue
        ok = value >= bound
        failed |= not ok
        print(f"{label:<50} {value:6.2f}  {spread:9s}  target >= {bound:g}   {'met' if ok else 'NOT MET'}")
        checks.append(f"| {label} | {value:.2f} | {spread} | >= {bound:g}: {'met' if ok else '**missed**'} |")
    how = (f"{len(runs)} run(s), each: {args.rounds} interleaved rounds of ~{args.batch_ms:g} ms batches with the "
           f"allocator pinned (`{' '.join(f'{k}={v}' for k, v in PINS.items())}`), and each contender alone in a "
           f"fresh process with glibc's defaults ({args.fresh_rounds} rounds of processes, in rotation); median "
           "time per call, the better of the two states kept (named in brackets; with a count when the runs "
           "differ). Times: the median over the runs; ratios: per run, then their median and spread.")
    if args.markdown:
        from benchmarks.report import write_section

        write_section("bench_tokens", "python -m benchmarks.bench_tokens " + " ".join(sys.argv[1:]),
                      how + "\n\n" + "\n".join(table) + "\n\n" + "\n".join(checks)
                      + "\n\nBoth states, per contender:\n\n" + "\n".join(states))
        print("# wrote the results into docs/benchmarks.md")
    if args.json:
        print(json.dumps({
            "medians_us": {f"{op} / {n}": {"pinned": med_pinned[op, n] * 1e6,
                                           "fresh": (med_fresh[op, n] * 1e6 if (op, n) in med_fresh else None),
                                           "kept": kept[op, n][1]} for op, n in kept},
            "ratios": results}, indent=2))
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=800, help="interleaved rounds (default 800)")
    ap.add_argument("--batch-ms", type=float, default=6.0, help="time per batch of calls (default 6 ms)")
    ap.add_argument("--fresh-rounds", type=int, default=3,
                    help="rounds of fresh processes, one per contender each (default 3)")
    ap.add_argument("--runs", type=int, default=1,
                    help="independent runs (pinned and fresh each), for the spread of the ratios (default 1)")
    ap.add_argument("--quick", action="store_true", help="40 rounds of 3 ms batches, 1 round of fresh processes")
    ap.add_argument("--json", action="store_true", help="also print the medians and ratios as JSON")
    ap.add_argument("--markdown", action="store_true", help="write the results into docs/benchmarks.md")
    ap.add_argument("--fresh", nargs=2, metavar=("OP", "CONTENDER"), help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    ap.add_argument("--payloads", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fresh:
        return fresh_child(args)
    if args.quick:
        args.rounds, args.batch_ms, args.fresh_rounds = 40, 3.0, 1
    if os.environ.get(PINNED_MARK) != "1":
        # the main run: re-execute with the allocator pinned (the fast state for all)
        module = __spec__.name if __spec__ is not None else "benchmarks.bench_tokens"
        os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]],
                  {**os.environ, **PINS, PINNED_MARK: "1"})

    import agora_token as at

    official = load_agoraiotools()
    command = " ".join([os.path.basename(sys.executable), "-m benchmarks.bench_tokens", *sys.argv[1:]])
    print(f"# agora-token {at.__version__} token benchmark: {command}")
    print(f"# {platform.platform()}; {platform.machine()} {platform.processor() or ''}; "
          f"{os.cpu_count()} CPUs; Python {platform.python_version()} ({platform.python_implementation()}); "
          f"zlib {zlib.ZLIB_RUNTIME_VERSION}")
    official_text = (getattr(official, "__version__", "installed") if official
                     else "NOT INSTALLED (pip install -e .[bench])")
    compiled = "not built"
    if _compiled_core_available():
        from agora_token import _pack

        compiled = str(_pack.FEATURES)
    print(f"# compiled core: {compiled}; agoraiotools: {official_text}")
    if official is not None:
        print(f"# agoraiotools RTC AccessToken2 vs ours: {check_same_structure(official)}")
    print(f"# pinned: {args.rounds} interleaved rounds, ~{args.batch_ms:g} ms per batch, "
          f"{' '.join(f'{k}={v}' for k, v in PINS.items())}; fresh: {args.fresh_rounds} round(s) of one "
          "process per contender with glibc's defaults; medians of per-call times", flush=True)
    rtc = at.RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, CHANNEL, UID, 1, 3600, 3600)
    payloads = rtc_payloads()
    cases = {}
    for op in OPS:
        for name in NAMES:
            case = make_case(op, name, official, rtc, payloads)
            if case is not None:
                cases[op, name] = case
    runs: list[tuple[Medians, Medians]] = []
    with tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False) as f:
        f.write("\n".join(p.hex() for p in payloads))
    try:
        for r in range(args.runs):
            if args.runs > 1:
                print(f"# run {r + 1}/{args.runs}", file=sys.stderr, flush=True)
            samples = run(cases, args.rounds, args.batch_ms / 1000)
            med_pinned = {key: statistics.median(ts) for key, ts in samples.items()}
            fresh = run_fresh(list(cases), args.fresh_rounds, max(5, args.rounds // 20), args.batch_ms, rtc, f.name)
            runs.append((med_pinned, {key: statistics.median(ts) for key, ts in fresh.items()}))
    finally:
        os.unlink(f.name)
    return report(runs, args)


if __name__ == "__main__":
    sys.exit(main())
