#!/usr/bin/env python3
"""A loop of RTC token builds to profile from the outside: the call a user
makes (``RtcTokenBuilder.build_token_with_uid``, one RTC service), end to end
from the Python call to the base64 string. Needs ``perf`` (Debian: ``linux-perf``).

    perf record -e cpu-clock -o perf.data python -m benchmarks.profile_build [--calls 300000]
    perf report -i perf.data --no-children --sort dso        # shares: libz, CPython, the core, libc
    perf report -i perf.data --no-children --sort dso,symbol

Prints the time per call (perf's sampling adds a little to it).
"""

from __future__ import annotations

import argparse
import sys
import time

from agora_token import BACKEND, RtcTokenBuilder
from tests.support.credentials import APP_CERTIFICATE, APP_ID


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=300_000, help="tokens to build (default 300000)")
    args = p.parse_args()
    build = RtcTokenBuilder.build_token_with_uid
    start = time.perf_counter()
    for _ in range(args.calls):
        build(APP_ID, APP_CERTIFICATE, "test", 123, 1, 3600)
    per_call = (time.perf_counter() - start) / args.calls
    print(f"{args.calls} RTC builds, backend {BACKEND}: {per_call * 1e6:.2f} µs per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
