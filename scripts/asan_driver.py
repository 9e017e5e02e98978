"""Run both token cores over a seeded, generated corpus and compare them.

Run by ``scripts/asan_check.sh`` with the compiled core built under
AddressSanitizer (any memory error aborts the process); it also works against
a normal build. For every input the compiled and the pure-Python core must
give the same outcome: the same result, or the same exception type and
message. Inputs: the reference vectors, random valid tokens of every service
type (007 and 006), bit flips, truncations and extensions of their bytes (raw
and inside the zlib stream), the named odd inputs of
``tests.support.odd_inputs`` (privilege objects whose ``items()`` returns
anything, keys with side effects, odd permission maps...) and random odd
service tuples.

    PYTHONPATH=. python scripts/asan_driver.py [--seed N] [--count N]   # from the repository root
"""

from __future__ import annotations

import argparse
import base64
import random
import sys
import time
import zlib
from decimal import Decimal
from typing import Any, Callable

from agora_token import _pack, _pack_py
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID
from tests.support.odd_inputs import CASES, Index, ItemsReturns
from tests.support.vectors import FILE_006, FILE_007, load_vectors

CORES = {"cython": _pack, "python": _pack_py}


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - compared across cores
        return (type(exc).__name__, str(exc))


class Check:
    def __init__(self) -> None:
        self.count = 0
        self.ok = 0
        self.diffs: list[str] = []

    def same(self, label: str, func: str, *args: Any) -> tuple[str, Any]:
        return self.same_fresh(label, lambda: (func, args))

    def same_fresh(self, label: str, make: Callable[[], tuple[str, tuple[Any, ...]]]) -> tuple[str, Any]:
        """``make()`` -> (function, args), called once per core: inputs with
        side effects (keys that change their dict, generators) start afresh."""
        self.count += 1
        results = {}
        for name, core in CORES.items():
            func, args = make()
            results[name] = outcome(getattr(core, func), *args)
        if results["cython"] != results["python"]:
            self.diffs.append(f"{label}: {func}: cython {results['cython']!r:.300} "
                              f"!= python {results['python']!r:.300}")
        elif results["python"][0] == "ok":
            self.ok += 1
        return results["python"]


def random_text(rng: random.Random, n: int) -> str:
    pools = ["abc", "0123456789", "é中🙂", " \x00\x1b", "\u00ff\u0100"]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def random_privileges(rng: random.Random) -> dict[int, int]:
    return {rng.choice([0, 1, 2, 3, 4, 5, 1000, 65535, rng.randrange(65536)]):
            rng.choice([0, 1, 3600, 2**32 - 1, rng.randrange(2**32)]) for _ in range(rng.randrange(0, 7))}


def random_service(rng: random.Random) -> tuple[Any, ...]:
    t = rng.randrange(1, 9)
    p = random_privileges(rng)
    def s() -> str:
        return random_text(rng, rng.choice([0, 1, 5, 64, 300]))

    if t in (1, 3, 6):
        return (t, p, s(), rng.choice([s(), "", str(rng.randrange(2**32))]))
    if t in (2, 5):
        return (t, p, s())
    if t == 4:
        return (t, p)
    if t == 7:
        return (t, p, s(), s(), rng.randrange(-32768, 32768))
    perms = {rng.randrange(6): {rng.randrange(3): [s() for _ in range(rng.randrange(4))]
                                for _ in range(rng.randrange(3))} for _ in range(rng.randrange(3))}
    return (t, p, s(), perms)


def odd_value(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: rng.randrange(-5, 70000), lambda: 2 ** rng.randrange(16, 80), lambda: -1.5, lambda: None,
        lambda: True, lambda: "x" * rng.randrange(4), lambda: b"b", lambda: Decimal(2),
        lambda: Index(rng.randrange(9)), lambda: "\ud800",
    ]
    if depth < 2:
        choices += [
            lambda: {odd_key(rng): odd_value(rng, depth + 1) for _ in range(rng.randrange(3))},
            lambda: ItemsReturns([rng.choice([(odd_key(rng), odd_value(rng, depth + 1)), [1, 2], "ab", 5, (1,)])
                                  for _ in range(rng.randrange(3))]),
            lambda: [odd_value(rng, depth + 1) for _ in range(rng.randrange(3))],
        ]
    return rng.choice(choices)()


def odd_key(rng: random.Random) -> Any:
    return rng.choice([0, 1, 4, 65535, 70000, -1, "k", None, b"k", Index(rng.randrange(5)), Decimal(1)])


def odd_service(rng: random.Random) -> Any:
    kind = rng.randrange(4)
    if kind == 0:
        svc = list(random_service(rng))
        svc[rng.randrange(len(svc))] = odd_value(rng)
        return tuple(svc)
    if kind == 1:
        return (rng.randrange(0, 10), odd_value(rng), *[odd_value(rng) for _ in range(rng.randrange(4))])
    if kind == 2:
        return [1, {}, "c", "u"]
    return odd_value(rng)


def mutations(rng: random.Random, token: str) -> list[str]:
    """Bit flips, truncations and extensions, raw and inside the zlib stream."""
    out = []
    prefix, body = (token[:3], token[3:]) if token.startswith("007") else (token[:35], token[35:])
    raw = bytearray(base64.b64decode(body))
    for _ in range(3):
        flipped = bytearray(raw)
        i = rng.randrange(len(flipped))
        flipped[i] ^= 1 << rng.randrange(8)
        out.append(prefix + base64.b64encode(bytes(flipped)).decode())
    out.append(prefix + base64.b64encode(bytes(raw[:rng.randrange(len(raw))])).decode())
    out.append(prefix + base64.b64encode(bytes(raw) + rng.randbytes(rng.randrange(1, 6))).decode())
    out.append(token[:rng.randrange(len(token))])
    if prefix == "007":
        payload = bytearray(zlib.decompress(bytes(raw)))
        for _ in range(3):
            p = bytearray(payload)
            i = rng.randrange(len(p))
            p[i] = rng.randrange(256)
            out.append("007" + base64.b64encode(zlib.compress(bytes(p))).decode())
        cut = rng.randrange(len(payload) + 1)
        out.append("007" + base64.b64encode(zlib.compress(bytes(payload[:cut]) + rng.randbytes(
            rng.randrange(0, 9)))).decode())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20241111)
    ap.add_argument("--count", type=int, default=600, help="random tokens to build (each also mutated)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    check = Check()
    start = time.monotonic()
    print(f"asan_driver: compiled core {_pack.__file__} {_pack.FEATURES}; seed {args.seed}", flush=True)

    tokens: list[tuple[str, str, Any]] = []
    for v in load_vectors(FILE_007)["vectors"]:
        tokens.append(("007", v["token"], v["app_certificate"]))
    for v in load_vectors(FILE_006)["vectors"]:
        tokens.append(("006", v["token"], (v["app_certificate"], v["channel_name"], v["uid"])))

    for i in range(args.count):
        if rng.random() < 0.75:
            services = [random_service(rng) for _ in range(rng.randrange(1, 5))]
            r = check.same(f"random 007 #{i}", "build_007", APP_ID, CERT, rng.randrange(2**32),
                           rng.randrange(2**32), rng.randrange(1, 10**8), services)
            if r[0] == "ok":
                tokens.append(("007", r[1], CERT))
        else:
            channel, uid = random_text(rng, rng.randrange(70)), rng.choice(["", str(rng.randrange(2**32)), "acct"])
            r = check.same(f"random 006 #{i}", "build_006", APP_ID, CERT, channel, uid,
                           rng.randrange(2**32), rng.randrange(2**32), random_privileges(rng))
            if r[0] == "ok":
                tokens.append(("006", r[1], (CERT, channel, uid)))

    for n, (fmt, token, key) in enumerate(tokens):
        for t in [token, *mutations(rng, token)]:
            label = f"{fmt} token #{n}"
            check.same(label, "parse_007", t)
            check.same(label, "parse_006", t)
            if fmt == "007":
                check.same(label, "verify_007", t, key)
            else:
                check.same(label, "verify_006", t, *key)

    for name, make in CASES.items():
        check.same_fresh(f"odd input {name!r}", make)

    for i in range(args.count):
        services = [odd_service(rng) for _ in range(rng.randrange(1, 4))]
        check.same(f"odd services #{i}", "build_007", APP_ID, CERT, 1_700_000_000, rng.choice([60, -1, 2**32]), 7,
                   services)
        check.same(f"odd 006 #{i}", "build_006", APP_ID, CERT, rng.choice(["c", odd_value(rng)]),
                   rng.choice(["1", odd_value(rng)]), 1, 2, rng.choice([random_privileges(rng), odd_value(rng)]))

    elapsed = time.monotonic() - start
    print(f"asan_driver: {check.count} inputs ({check.ok} built/parsed/verified), "
          f"{len(check.diffs)} differences, {elapsed:.1f} s", flush=True)
    for d in check.diffs[:20]:
        print("  DIFF", d)
    return 1 if check.diffs else 0


if __name__ == "__main__":
    sys.exit(main())
