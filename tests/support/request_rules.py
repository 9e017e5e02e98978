"""One table of requests for ``POST /getToken`` and ``agora-token``: both
follow :mod:`agora_token.rules`, so both accept or refuse each case, with the
same message but for the name of the value (``uid`` / ``--uid``).

Each case: the token type, the fields as ``POST /getToken`` takes them (text,
as on a command line; ``expire`` a number), and ``None`` when the token is
issued or the message with the field names as ``{channel}``, ``{uid}``,
``{expire}``. A field left out is left out of the command line too.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from agora_token import parse


class Case(NamedTuple):
    kind: str
    fields: dict[str, Any]
    refused: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.kind}-" + "-".join(f"{k}={str(v)[:12]}" for k, v in self.fields.items())


RANGE = "0..4294967295"
CASES = [
    # rtc: the channel
    Case("rtc", {"channel": "lobby", "uid": "42"}),
    Case("rtc", {"channel": "*", "uid": "42"}),
    Case("rtc", {"channel": "", "uid": "42"}, "missing {channel} (required for rtc tokens)"),
    Case("rtc", {"channel": "c" * 64, "uid": "42"}),
    Case("rtc", {"channel": "c" * 65, "uid": "42"}, "{channel} is 65 bytes long; at most 64 are allowed"),
    Case("rtc", {"channel": "é" * 33, "uid": "42"}, "{channel} is 66 bytes long; at most 64 are allowed"),
    # rtc: the uid
    Case("rtc", {"channel": "lobby", "uid": "007"}),
    Case("rtc", {"channel": "lobby", "uid": "0"}),
    Case("rtc", {"channel": "lobby", "uid": "4294967295"}),
    Case("rtc", {"channel": "lobby", "uid": "4294967296"}, f"{{uid}} must be in {RANGE}, got 4294967296"),
    Case("rtc", {"channel": "lobby", "uid": "9" * 30}, f"{{uid}} must be in {RANGE}, got a 100-bit integer"),
    Case("rtc", {"channel": "lobby", "uid": "-1"}),  # the user account "-1"
    Case("rtc", {"channel": "lobby", "uid": "1.5"}),
    Case("rtc", {"channel": "lobby", "uid": "alice"}),
    Case("rtc", {"channel": "lobby", "uid": ""}, 'missing {uid} (required for rtc tokens; "0" means any user)'),
    Case("rtc", {"channel": "lobby", "uid": "a" * 255}),
    Case("rtc", {"channel": "lobby", "uid": "a" * 256}, "{uid} is 256 bytes long; at most 255 are allowed"),
    # rtc: the role and the lifetime
    Case("rtc", {"channel": "lobby", "uid": "42", "role": "subscriber"}),
    Case("rtc", {"channel": "lobby", "uid": "42", "role": "publisher", "expire": 600}),
    Case("rtc", {"channel": "lobby", "uid": "42", "expire": 0}),  # 0: the default, 3600
    Case("rtc", {"channel": "lobby", "uid": "42", "expire": 4294967295}),
    Case("rtc", {"channel": "lobby", "uid": "42", "expire": 4294967296},
         f"{{expire}} must be a whole number of seconds in {RANGE}, got 4294967296"),
    Case("rtc", {"channel": "lobby", "uid": "42", "expire": 99999999999},
         f"{{expire}} must be a whole number of seconds in {RANGE}, got 99999999999"),
    Case("rtc", {"channel": "lobby", "uid": "42", "expire": -1},
         f"{{expire}} must be a whole number of seconds in {RANGE}, got -1"),
    # rtm
    Case("rtm", {"uid": "alice"}),
    Case("rtm", {"uid": "alice", "channel": "lobby"}),
    Case("rtm", {"uid": "alice", "channel": "*", "expire": 60}),
    Case("rtm", {"uid": "alice", "channel": ""}),  # no stream channel
    Case("rtm", {"uid": "007"}),  # an RTM user id is text: "007" stays "007"
    Case("rtm", {"uid": "0"}, "{uid} must be a user id other than 0 (for rtm tokens)"),
    Case("rtm", {"uid": ""}, "missing {uid} (required for rtm tokens)"),
    Case("rtm", {"uid": "a" * 256}, "{uid} is 256 bytes long; at most 255 are allowed"),
    Case("rtm", {"uid": "alice", "channel": "c" * 65}, "{channel} is 65 bytes long; at most 64 are allowed"),
    Case("rtm", {"uid": "alice", "expire": 4294967296},
         f"{{expire}} must be a whole number of seconds in {RANGE}, got 4294967296"),
    # chat
    Case("chat", {}),
    Case("chat", {"uid": ""}),  # the app token
    Case("chat", {"uid": "bob", "expire": 60}),
    Case("chat", {"uid": "0"}),
    Case("chat", {"uid": "a" * 256}, "{uid} is 256 bytes long; at most 255 are allowed"),
    Case("chat", {"expire": -5}, f"{{expire}} must be a whole number of seconds in {RANGE}, got -5"),
]

#: the command-line flag of each field, by token type
FLAGS = {
    "rtc": {"channel": "--channel", "uid": "--uid", "role": "--role", "expire": "--expire"},
    "rtm": {"channel": "--channel", "uid": "--user", "expire": "--expire"},
    "chat": {"uid": "--user", "expire": "--expire"},
}


def fields(case: Case) -> dict[str, Any]:
    """The case's fields; an RTC role is always given (the service reads a
    missing role as subscriber, the command line as publisher)."""
    return {"role": "publisher", **case.fields} if case.kind == "rtc" else case.fields


def body(case: Case) -> dict[str, Any]:
    """The ``POST /getToken`` body."""
    return {"tokenType": case.kind, **fields(case)}


def argv(case: Case) -> list[str]:
    """The ``agora-token`` command line."""
    args = [case.kind]
    for field, value in fields(case).items():
        args += [FLAGS[case.kind][field], str(value)]
    return args


def message(case: Case, names: str) -> Optional[str]:
    """The expected message, with the service's names (``"field"``) or the flags (``"flag"``)."""
    if case.refused is None:
        return None
    if names == "field":
        return case.refused.format(channel="channel", uid="uid", expire="expire")
    return case.refused.format(**FLAGS[case.kind])


def grants(token: str) -> tuple[int, list[tuple[Any, ...]]]:
    """What a token grants, without its salt and issue time: its lifetime and
    each service's type, privileges and fields."""
    t = parse(token)
    return t.expire, [(s.type, s.privileges, *(getattr(s, n) for n in s.field_names)) for s in t.services]
