"""The token service's request rules, in one place: ``POST /getToken`` (and
the deprecated GET routes) in ``server/token_routes.py`` and the
``agora-token`` command line check their values with these functions, so
they accept and refuse the same values with the same messages. Each message
names the value as its caller knows it: ``expire`` in a JSON body,
``--expire`` on the command line.

These are the service's rules, stricter than the builders (which keep
Agora's permissive behaviour): an RTC token needs a channel and a uid, an
RTM user is never ``"0"``, a uid written as plain decimal digits is a
numeric uid (``"007"`` is 7, ``"0"`` any user) and anything else a user
account (``"-1"`` is the account "-1"), every lifetime is a whole number of
seconds in 0..4294967295 (``POST /token/generate``'s lifetimes too), and
``POST /getToken`` reads a missing or 0 ``expire`` as 3600.
"""

from __future__ import annotations

from typing import Union

from . import _messages as M
from . import _validate as v
from .constants import DEFAULT_EXPIRE, U32_MAX
from .errors import InvalidParameterError

__all__ = [
    "RequestError",
    "account_note",
    "chat_user",
    "check_expire",
    "optional_channel",
    "parse_expire",
    "quoted",
    "required_channel",
    "rtc_uid",
    "rte_rtm_user",
    "rtm_user",
    "shown",
    "token_expire",
    "uid_number",
]

Uid = Union[int, str]


class RequestError(InvalidParameterError):
    """A value the service's request rules refuse: the service answers 400
    with its message, ``agora-token`` exits 2 with it."""


def quoted(text: str) -> str:
    """Text for a message: quoted, cut at 40 characters."""
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def shown(value: object) -> str:
    """A value for a message: an int as its digits, text :func:`quoted`, a
    JSON value of another type by its type."""
    if type(value) is int:
        return M.show_int(value)
    if type(value) is str:
        return quoted(value)
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is float:
        return repr(value)
    if type(value) is list:
        return "an array"
    return "an object" if type(value) is dict else f"a {type(value).__name__}"


# --------------------------------------------------------------- lifetimes

def check_expire(value: object, name: str = "expire") -> int:
    """A lifetime in seconds given as a JSON number: an int in 0..4294967295."""
    if type(value) is not int or not 0 <= value <= U32_MAX:
        raise RequestError(f"{name} must be a whole number of seconds in 0..{U32_MAX}, got {shown(value)}")
    return value


def parse_expire(text: str, name: str = "expire") -> int:
    """A lifetime in seconds given as text (a command line, a query string):
    plain decimal digits, in 0..4294967295; the message of :func:`check_expire`."""
    digits = text[1:] if text[:1] == "-" else text
    if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= 24:
        number = int(text)
        if text[0] != "-" or number < 0:  # a number, shown as one ("got -1"); "-0" is refused as text
            return check_expire(number, name)
    return check_expire(text, name)


def token_expire(value: object, name: str = "expire", default: int = DEFAULT_EXPIRE) -> int:
    """``POST /getToken``'s ``expire``: missing (None) or 0 is ``default``."""
    if value is None:
        return default
    return check_expire(value, name) or default


# --------------------------------------------------------------- channels

def optional_channel(value: object, name: str = "channel") -> str:
    """A channel that may be left out ("" when missing): at most 64 bytes."""
    if value is None:
        return ""
    if type(value) is not str:
        raise RequestError(f"{name} must be a string")
    return v.check_channel(value, name)


def required_channel(value: object, name: str = "channel", kind: str = "rtc") -> str:
    """A channel a ``kind`` token needs: not empty, at most 64 bytes."""
    channel = optional_channel(value, name)
    if not channel:
        raise RequestError(f"missing {name} (required for {kind} tokens)")
    return channel


# ------------------------------------------------------------------- users

def _number(value: object, name: str) -> int:
    """A JSON number given as a uid: an int in 0..4294967295."""
    if type(value) is not int:
        raise RequestError(f"{name} must be a string or a whole number in 0..{U32_MAX}")
    if not 0 <= value <= U32_MAX:
        raise RequestError(M.out_of_range(name, value, 0, U32_MAX))
    return value


def rtc_uid(value: object, name: str = "uid") -> Uid:
    """An RTC uid: plain decimal digits (or a JSON number) are a numeric uid
    in 0..4294967295 (0: any user); any other text is a user account (at
    most 255 bytes)."""
    if type(value) is not str:
        if value is None:
            value = ""
        else:
            return _number(value, name)
    if value == "":
        raise RequestError(f'missing {name} (required for rtc tokens; "0" means any user)')
    number = uid_number(value, name)
    return v.check_account(value, name) if number is None else number


def uid_number(text: str, name: str = "uid") -> int | None:
    """The numeric uid ``text`` names when it is plain decimal digits
    (:func:`agora_token.parse_uid`), else None."""
    if text.isdigit() and len(text) < 10 and text.isascii():  # the usual case: no overflow possible
        return int(text)
    try:
        return v.parse_uid(text, name)
    except InvalidParameterError as exc:  # above 4294967295: the library's message
        raise RequestError(str(exc)) from None


def account_note(value: Uid, name: str = "uid") -> str | None:
    """For text that looks like a number but is read as a user account
    (``"-1"``, ``"+5"``, ``" 5"``, ``"1.5"``): a note saying so, else None."""
    if type(value) is not str or not any(c.isdigit() for c in value):
        return None
    try:
        float(value)
    except ValueError:
        return None
    return (f"{name} {quoted(value)} is not plain decimal digits, so it is read as the user account "
            f"{quoted(value)}, as POST /getToken reads it (a numeric uid is plain digits, 0..{U32_MAX})")


def rtm_user(value: object, name: str = "uid") -> str:
    """An RTM user id: not empty and not "0" (a JSON number is its digits)."""
    if type(value) is not str:
        value = "" if value is None else str(_number(value, name))
    if value == "":
        raise RequestError(f"missing {name} (required for rtm tokens)")
    if value == "0":
        raise RequestError(f"{name} must be a user id other than 0 (for rtm tokens)")
    return v.check_account(value, name)


def chat_user(value: object, name: str = "uid") -> str:
    """A Chat user id; empty or missing: "" (the app token)."""
    if type(value) is not str:
        value = "" if value is None else str(_number(value, name))
    return v.check_account(value, name)


def rte_rtm_user(rtm: str | None, uid_text: str, uid: Uid, rtm_name: str, uid_name: str,
                 where: str = "") -> str:
    """The RTM user of an RTC + RTM pair: ``rtm`` when given, else the uid as
    written; empty, "0" or a numeric uid 0 (``000``) is refused. ``where``:
    how to give ``rtm_name``, for the message."""
    user = rtm or uid_text
    if user in ("", "0") or (not rtm and uid == 0):
        raise RequestError(f"no RTM user: give {rtm_name}{where}, or an {uid_name} other than empty or 0")
    return v.check_account(user, rtm_name if rtm else uid_name)
