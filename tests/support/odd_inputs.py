"""Hostile and odd inputs for the two token cores, by name.

Each case calls one core function with values a caller can reach by setting a
service's (or an ``AccessToken006``'s) public attributes: objects whose
``items()`` returns anything, keys whose ``__index__`` has side effects,
wrong field types and counts, oversized maps. Used by the crash tests (each
case in a subprocess, on both cores) and by ``scripts/asan_check.sh``.

Run cases on both cores and print their outcomes as JSON lines::

    python -m tests.support.odd_inputs CASE-NAME [...]    # or --all
"""

from __future__ import annotations

import enum
import json
import sys
from collections import namedtuple
from collections.abc import Iterable
from decimal import Decimal
from types import ModuleType
from typing import Any, Callable

from tests.support.cores import cores
from tests.support.cores import outcome as cores_outcome
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID

TS, EXPIRE, SALT = 1_700_000_000, 600, 12345
Pair = namedtuple("Pair", "key value")


class ItemsReturns:
    """A mapping look-alike whose ``items()`` returns ``value`` (anything)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def items(self) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value() if callable(self.value) else self.value


class ItemsDict(dict):  # type: ignore[type-arg]
    """A dict whose ``items()`` lies."""

    def items(self) -> Any:  # type: ignore[override]
        return [[k, v] for k, v in dict.items(self)]


class Index:
    """An integer by ``__index__`` only, with an optional side effect."""

    def __init__(self, value: Any, effect: Callable[[], None] | None = None) -> None:
        self.value = value
        self.effect = effect

    def __index__(self) -> Any:
        if self.effect is not None:
            self.effect()
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value

    def __hash__(self) -> int:
        return 12345


class Loud(str):
    """A str subclass that overrides encode(): cores must pack the text itself."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"not what is packed"


class Color(enum.IntEnum):
    RED = 1


def _rtc(privileges: Any) -> list[tuple[Any, ...]]:
    return [(1, privileges, "room", "42")]


def _rtm2(permissions: Any) -> list[tuple[Any, ...]]:
    return [(8, {1: 60}, "user", permissions)]


def b007(services: Any, app_id: Any = APP_ID, cert: Any = CERT, ts: Any = TS, expire: Any = EXPIRE,
         salt: Any = SALT) -> tuple[str, tuple[Any, ...]]:
    return "build_007", (app_id, cert, ts, expire, salt, services)


_DEFAULT = object()


def b006(privileges: Any = _DEFAULT, app_id: Any = APP_ID, cert: Any = CERT, channel: Any = "room",
         uid: Any = "42", salt: Any = SALT, ts: Any = TS) -> tuple[str, tuple[Any, ...]]:
    return "build_006", (app_id, cert, channel, uid, salt, ts, {1: TS} if privileges is _DEFAULT else privileges)


def _mutating_key(grow: bool) -> dict[Any, int]:
    privs: dict[Any, int] = {}

    def effect() -> None:
        if grow:
            for k in range(100, 3000):
                privs[k] = 0x41414141
        else:
            for k in [k for k in privs if not isinstance(k, Index)]:
                del privs[k]

    privs[Index(7, effect)] = 1
    if not grow:
        for k in range(1, 16):
            privs[k] = 0
    return privs


def _noise(n: int) -> str:
    """Incompressible printable text (seeded)."""
    import random
    rng = random.Random(7)
    return "".join(chr(rng.randrange(33, 127)) for _ in range(n))


def _gen(items: Iterable[Any]) -> Callable[[], Any]:
    return lambda: (x for x in items)


def _token_006() -> str:
    from agora_token import _pack_py
    return _pack_py.build_006(APP_ID, CERT, "room", "42", 1, 2, {1: 3})


def _token_007() -> str:
    from agora_token import _pack_py
    return _pack_py.build_007(APP_ID, CERT, 1, 2, 3, [(1, {1: 0}, "room", "42")])


#: name -> () -> (core function name, args)
CASES: dict[str, Callable[[], tuple[str, tuple[Any, ...]]]] = {
    # privileges whose items() returns anything (issue 11, item 1)
    "privileges items() gives lists": lambda: b007(_rtc(ItemsReturns([[1, 3600]]))),
    "privileges items() gives a str": lambda: b007(_rtc(ItemsReturns(["ab"]))),
    "privileges items() gives 1-tuples": lambda: b007(_rtc(ItemsReturns([(1,)]))),
    "privileges items() gives 3-tuples": lambda: b007(_rtc(ItemsReturns([(1, 2, 3)]))),
    "privileges items() gives a namedtuple": lambda: b007(_rtc(ItemsReturns([Pair(1, 60)]))),
    "privileges items() gives ints": lambda: b007(_rtc(ItemsReturns([1, 2]))),
    "privileges items() returns an int": lambda: b007(_rtc(ItemsReturns(5))),
    "privileges items() returns None": lambda: b007(_rtc(ItemsReturns(None))),
    "privileges items() returns a generator": lambda: b007(_rtc(ItemsReturns(_gen([(2, 5), (1, 6)])))),
    "privileges items() raises TypeError": lambda: b007(_rtc(ItemsReturns(TypeError("nope")))),
    "privileges items() raises ValueError": lambda: b007(_rtc(ItemsReturns(ValueError("user error")))),
    "privileges dict subclass lying in items()": lambda: b007(_rtc(ItemsDict({1: 60}))),
    "privileges a list": lambda: b007(_rtc([1, 2])),
    "privileges None": lambda: b007(_rtc(None)),
    "privilege key float": lambda: b007(_rtc({1.5: 60})),
    "privilege key str": lambda: b007(_rtc({"1": 60})),
    "privilege key None": lambda: b007(_rtc({None: 60})),
    "privilege key negative": lambda: b007(_rtc({-1: 60})),
    "privilege key 2**70": lambda: b007(_rtc({2**70: 60})),
    "privilege key 10**5000": lambda: b007(_rtc({10**5000: 60})),
    "privilege key bool": lambda: b007(_rtc({True: 60})),
    "privilege key IntEnum": lambda: b007(_rtc({Color.RED: 60})),
    "privilege key __index__ raises TypeError": lambda: b007(_rtc({Index(TypeError("x")): 60})),
    "privilege key __index__ returns str": lambda: b007(_rtc({Index("1"): 60})),
    "privilege key __index__ grows the dict": lambda: b007(_rtc(_mutating_key(True))),
    "privilege key __index__ shrinks the dict": lambda: b007(_rtc(_mutating_key(False))),
    "privilege keys equal by __index__": lambda: b007(_rtc({Index(1): 5, 1: 6, Index(1, None): 7})),
    "privilege value float": lambda: b007(_rtc({1: 99.99})),
    "privilege value 2**32": lambda: b007(_rtc({1: 2**32})),
    "privilege value Decimal": lambda: b007(_rtc({1: Decimal(3)})),
    "privileges 40 reversed": lambda: b007(_rtc({k: k for k in range(40, 0, -1)})),
    "privileges 70000": lambda: b007(_rtc(dict.fromkeys(range(70000), 1))),
    "privileges 12000 (payload over 64 KiB)": lambda: b007(_rtc(dict.fromkeys(range(12000), 1))),
    # services
    "services not iterable": lambda: b007(5),
    "services a generator": lambda: b007(s for s in [(2, {1: 1}, "u"), (1, {1: 1}, "c", "1")]),
    "services a str": lambda: b007("abc"),
    "service a list": lambda: b007([[1, {}, "c", "1"]]),
    "service a namedtuple": lambda: b007([namedtuple("S", "t p c u")(1, {}, "c", "1")]),
    "service of one item": lambda: b007([(1,)]),
    "service type str": lambda: b007([("1", {}, "c", "1")]),
    "service types str after int": lambda: b007([(2, {}, "u"), ("1", {}, "c", "1")]),
    "service type float": lambda: b007([(1.0, {}, "c", "1")]),
    "service type 0": lambda: b007([(0, {})]),
    "service type 9": lambda: b007([(9, {})]),
    "service type 70000": lambda: b007([(70000, {})]),
    "service type 2**64": lambda: b007([(2**64, {})]),
    "service type __index__": lambda: b007([(Index(2), {}, "u")]),
    "service wrong field count": lambda: b007([(1, {}, "c")]),
    "services 65536": lambda: b007([(4, {})] * 65536),
    "services unsorted": lambda: b007([(5, {2: 1}, ""), (1, {1: 1}, "c", ""), (2, {1: 1}, "u"),
                                       (1, {1: 2}, "d", "7")]),
    "field bytes": lambda: b007([(1, {}, b"c", "1")]),
    "field int": lambda: b007([(1, {}, "c", 5)]),
    "field None": lambda: b007([(2, {}, None)]),
    "field str subclass overriding encode": lambda: b007([(1, {}, Loud("room"), Loud("alice"))]),
    "field lone surrogate": lambda: b007([(2, {}, "a\ud800b")]),
    "field 70000 bytes": lambda: b007([(2, {}, "x" * 70000)]),
    "role float": lambda: b007([(7, {1: 1}, "r", "u", 1.5)]),
    "role 40000": lambda: b007([(7, {1: 1}, "r", "u", 40000)]),
    "role -40000": lambda: b007([(7, {1: 1}, "r", "u", -40000)]),
    "role str": lambda: b007([(7, {1: 1}, "r", "u", "1")]),
    "role Decimal": lambda: b007([(7, {1: 1}, "r", "u", Decimal(3))]),
    "role bool": lambda: b007([(7, {1: 1}, "r", "u", True)]),
    "app_id int": lambda: b007(_rtc({}), app_id=5),
    "app_id surrogate": lambda: b007(_rtc({}), app_id="\udc00"),
    "app_id 70000 bytes": lambda: b007(_rtc({}), app_id="a" * 70000),
    "certificate bytes": lambda: b007(_rtc({}), cert=CERT.encode()),
    "certificate non-ASCII": lambda: b007(_rtc({}), cert="é" * 32),
    "certificate long": lambda: b007(_rtc({}), cert="c" * 500),
    "issue_ts negative": lambda: b007(_rtc({}), ts=-1),
    "issue_ts 2**32": lambda: b007(_rtc({}), ts=2**32),
    "expire str": lambda: b007(_rtc({}), expire="60"),
    "salt None": lambda: b007(_rtc({}), salt=None),
    "salt float": lambda: b007(_rtc({}), salt=1.0),
    "payload over 64 KiB": lambda: b007([(2, {}, "x" * 30000)] * 3),
    "payload over 64 KiB then a bad field": lambda: b007([(2, {}, "x" * 60000), (2, {}, "y" * 10000),
                                                          (5, {}, b"bad")]),
    "token too long": lambda: b007([(2, {}, _noise(60000))]),
    # RTM2 permissions
    "permissions items() gives lists": lambda: b007(_rtm2(ItemsReturns([[0, {}]]))),
    "permissions None": lambda: b007(_rtm2(None)),
    "permissions inner int": lambda: b007(_rtm2({0: 5})),
    "permissions inner items() gives a str": lambda: b007(_rtm2({0: ItemsReturns(["ab"])})),
    "permissions resources int": lambda: b007(_rtm2({0: {0: 5}})),
    "permissions resource bytes": lambda: b007(_rtm2({0: {0: [b"x"]}})),
    "permissions resource surrogate": lambda: b007(_rtm2({0: {0: ["\ud800"]}})),
    "permissions permission type str": lambda: b007(_rtm2({0: {"x": []}})),
    "permissions resource type str": lambda: b007(_rtm2({"a": {}})),
    "permissions resource type 70000": lambda: b007(_rtm2({70000: {}})),
    "permissions resources a str": lambda: b007(_rtm2({0: {0: "abc"}})),
    "permissions resources a generator": lambda: b007(_rtm2({0: {0: (r for r in ["a", "b"])}})),
    "permissions unsorted": lambda: b007(_rtm2({4: {1: ["u2"]}, 0: {1: ["b"], 0: ["a"]}})),
    "permissions by items()": lambda: b007(_rtm2(ItemsReturns([(0, ItemsReturns([(0, ["a"])]))]))),
    "permissions 70000 resources": lambda: b007(_rtm2({0: {0: ["r"] * 70000}})),
    "permissions resource iterable raising": lambda: b007(_rtm2({0: {0: ItemsReturns(1)}})),
    # legacy 006
    "006 privileges items() gives a str": lambda: b006(ItemsReturns(["ab"])),
    "006 privileges items() gives lists": lambda: b006(ItemsReturns([[1, 3600]])),
    "006 privileges None": lambda: b006(None),
    "006 privileges 11000 (message over 64 KiB)": lambda: b006(dict.fromkeys(range(11000), 1)),
    "006 app_id non-ASCII": lambda: b006(app_id="é" * 32),
    "006 app_id int": lambda: b006(app_id=5),
    "006 channel bytes": lambda: b006(channel=b"room"),
    "006 uid int": lambda: b006(uid=42),
    "006 uid surrogate": lambda: b006(uid="\ud800"),
    "006 salt negative": lambda: b006(salt=-1),
    "006 ts float": lambda: b006(ts=1.5),
    "006 channel and uid 40000 bytes each": lambda: b006(channel="c" * 40000, uid="u" * 40000),
    # parse and verify with odd arguments
    "parse_007 int": lambda: ("parse_007", (5,)),
    "parse_006 None": lambda: ("parse_006", (None,)),
    "verify_007 certificate bytes": lambda: ("verify_007", (_token_007(), CERT.encode())),
    "verify_007 certificate surrogate": lambda: ("verify_007", (_token_007(), "\ud800")),
    "verify_007 garbage and bad certificate": lambda: ("verify_007", ("garbage", 5)),
    "verify_006 channel int": lambda: ("verify_006", (_token_006(), CERT, 5, "42")),
    "verify_006 uid surrogate": lambda: ("verify_006", (_token_006(), CERT, "room", "\ud800")),
    "verify_006 channel 100000 bytes": lambda: ("verify_006", (_token_006(), CERT, "c" * 100000, "42")),
}

#: the cases that crashed the compiled core before the casts were checked
#: (issue 11, item 1), or raised something other than InvalidParameterError
CRASH_CASES = tuple(name for name in CASES if "items()" in name) + (
    "privileges a list", "services a str", "service types str after int",
    "privilege key __index__ grows the dict", "privilege key __index__ shrinks the dict",
    "permissions resource type str", "permissions resources int", "006 channel and uid 40000 bytes each",
    "verify_006 channel 100000 bytes",
)

#: cases where the caller's own code raises: the same exception must come out of both cores
USER_ERRORS = frozenset({"privileges items() raises ValueError"})


def outcome(core: ModuleType, name: str) -> list[Any]:
    """[kind, detail]: ["ok", result] or [exception type name, message]."""
    func, args = CASES[name]()
    kind, detail = cores_outcome(getattr(core, func), *args)
    if kind == "ok" and not isinstance(detail, (str, bool)):
        detail = repr(detail)  # JSON-safe
    return [kind, detail]


def main(argv: list[str]) -> int:
    """Run the named cases (all with ``--all``) on both cores, one JSON line
    per case; the case's name goes to stderr first, so a crash names it."""
    names = list(CASES) if argv == ["--all"] else argv
    for name in names:
        print(name, file=sys.stderr, flush=True)
        line = {"case": name, **{label: outcome(core, name) for label, core in cores().items()}}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
