#!/usr/bin/env python3
"""What the CPU's SHA extensions save per token: the compiled core's
``build_007`` (one RTC service, varying salts, one issue time: a server's
case) with the built-in SHA-256 on SHA-NI and on the portable C
(``AGORA_TOKEN_SHA_NI=0``), each in its own process, the two alternating
round after round; the median of each process's 15 batch medians, then the
median over the rounds.

    python -m benchmarks.bench_sha256 [--rounds 6] [--calls 20000]

On a CPU without the extensions, or a build on libcrypto, both processes
take the same path and the script says so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
from agora_token import _pack
from tests.support.credentials import APP_CERTIFICATE as cert, APP_ID as app_id
svc = [(1, {1: 3600, 2: 3600, 3: 3600, 4: 3600}, "test", "123")]
build, calls, ts = _pack.build_007, int(sys.argv[1]), 1700000000
for salt in range(1, calls + 1):
    build(app_id, cert, ts, 3600, salt, svc)
times = []
for _ in range(15):
    t = time.perf_counter()
    for salt in range(1, calls + 1):
        build(app_id, cert, ts, 3600, salt, svc)
    times.append((time.perf_counter() - t) / calls)
times.sort()
print(times[len(times) // 2] * 1e6, _pack.FEATURES["sha256"])
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=6, help="alternating rounds of two processes (default 6)")
    p.add_argument("--calls", type=int, default=20000, help="tokens per batch (default 20000)")
    args = p.parse_args()
    results: dict[str, list[float]] = {"1": [], "0": []}
    paths: dict[str, str] = {}
    for rnd in range(args.rounds):
        for flag in ("1", "0") if rnd % 2 == 0 else ("0", "1"):
            out = subprocess.run([sys.executable, "-c", CHILD, str(args.calls)], capture_output=True, text=True,
                                 check=True, cwd=ROOT, env={**os.environ, "AGORA_TOKEN_SHA_NI": flag}).stdout.split()
            results[flag].append(float(out[0]))
            paths[flag] = out[1]
    on, off = statistics.median(results["1"]), statistics.median(results["0"])
    print(f"# python -m benchmarks.bench_sha256 {' '.join(sys.argv[1:])}".rstrip())
    print(f"  {paths['1']:16s} {on:6.2f} µs per token  (rounds: {', '.join(f'{x:.2f}' for x in results['1'])})")
    print(f"  {paths['0']:16s} {off:6.2f} µs per token  (rounds: {', '.join(f'{x:.2f}' for x in results['0'])})")
    if paths["1"] == paths["0"]:
        print(f"  both runs took the same path ({paths['1']}): no SHA extensions here, or a libcrypto build")
    else:
        print(f"  SHA-NI saves {off - on:.2f} µs per token ({(off - on) / off:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
