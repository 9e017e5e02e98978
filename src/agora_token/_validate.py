"""Input checks shared by both cores. They run before any packing, signing
or compression, so bad input costs nothing and fails the same way whichever
core is active."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _messages as M
from .constants import (
    I16_MAX,
    I16_MIN,
    MAX_006_CHANNEL_UID_BYTES,
    MAX_ACCOUNT_BYTES,
    MAX_CHANNEL_NAME_BYTES,
    MAX_STRING_BYTES,
    U16_MAX,
    U32_MAX,
)
from .errors import InvalidCredentialsError, InvalidParameterError

if TYPE_CHECKING:
    from typing import TypeGuard

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_DIGITS = re.compile(r"[0-9]+")


def is_app_id(text: object) -> TypeGuard[str]:
    """True when ``text`` is a str of 32 hexadecimal digits: the form of an
    Agora app id and of an app certificate."""
    return type(text) is str and _HEX32.fullmatch(text) is not None


#: the same check, named for certificates
is_app_certificate = is_app_id

# (app_id, certificate) pairs already checked: builders are called with the
# same credentials over and over, so check each pair once.
_checked_credentials: set[tuple[str, str]] = set()
_CHECKED_MAX = 256


def check_app_id(app_id: Any, name: str = "app_id") -> str:
    if not is_app_id(app_id):
        shown = repr(app_id) if type(app_id) is str and len(app_id) <= 64 else type(app_id).__name__
        raise InvalidCredentialsError(f"{name} must be 32 hexadecimal digits, got {shown}")
    return app_id


def check_certificate(cert: Any, name: str = "app_certificate") -> str:
    # Never echo a certificate, even a malformed one.
    if not is_app_id(cert):
        raise InvalidCredentialsError(f"{name} must be 32 hexadecimal digits")
    return cert


def check_credentials(app_id: Any, cert: Any) -> None:
    # the type test first: an object merely *equal* to a checked pair must not pass
    if type(app_id) is str and type(cert) is str and (app_id, cert) in _checked_credentials:
        return
    check_app_id(app_id)
    check_certificate(cert)
    if len(_checked_credentials) >= _CHECKED_MAX:
        _checked_credentials.clear()
    _checked_credentials.add((app_id, cert))


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    if type(value) is not int and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidParameterError(M.not_int(name, value))
    number = int(value)  # plain int for IntEnum and friends
    if not lo <= number <= hi:
        raise InvalidParameterError(M.out_of_range(name, number, lo, hi))
    return number


def check_u32(value: Any, name: str) -> int:
    return check_int(value, name, 0, U32_MAX)


def check_u16(value: Any, name: str) -> int:
    return check_int(value, name, 0, U16_MAX)


def check_i16(value: Any, name: str) -> int:
    return check_int(value, name, I16_MIN, I16_MAX)


def utf8_len(text: str, name: str) -> int:
    if len(text) <= MAX_STRING_BYTES // 4 and text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidParameterError(M.surrogate(name)) from None


def check_str(value: Any, name: str, max_bytes: int = MAX_STRING_BYTES) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(M.not_str(name, value))
    text = str(value)  # plain str for subclasses
    n = utf8_len(text, name)
    if n > max_bytes:
        raise InvalidParameterError(M.str_too_long(name, n, max_bytes))
    return text


def check_channel(value: Any, name: str = "channel_name") -> str:
    """Agora's rule: at most 64 bytes. (``*`` is allowed.)"""
    return check_str(value, name, MAX_CHANNEL_NAME_BYTES)


def check_account(value: Any, name: str = "account", *, required: bool = False) -> str:
    text = check_str(value, name, MAX_ACCOUNT_BYTES)
    if required and not text:
        raise InvalidParameterError(f"{name} must not be empty")
    return text


def uid_to_str(uid: Any, name: str = "uid", max_bytes: int = MAX_STRING_BYTES) -> str:
    """Numeric uid -> its decimal string, 0 -> "" (any user); str -> as is."""
    if type(uid) is int or (isinstance(uid, int) and not isinstance(uid, bool)):
        uid = int(uid)
        if not 0 <= uid <= U32_MAX:
            raise InvalidParameterError(M.out_of_range(name, uid, 0, U32_MAX))
        return "" if uid == 0 else str(uid)
    if not isinstance(uid, str):
        raise InvalidParameterError(M.not_uid(name, uid))
    return check_str(uid, name, max_bytes)


def parse_uid(text: str, name: str = "uid") -> int | None:
    """The uid named by ``text`` when it is plain ASCII decimal digits
    (``"007"`` is 7, ``"0"`` is 0: any user), else None: a user account.
    Digits above 4294967295 raise :class:`InvalidParameterError`."""
    if not isinstance(text, str):
        raise InvalidParameterError(M.not_str(name, text))
    if text.isascii() and _DIGITS.fullmatch(text):
        # bound the digits before int(); the message is the one for an int out of range
        digits = text.lstrip("0")
        if len(digits) > 10 or int(text) > U32_MAX:
            number = int(digits) if len(digits) <= 4000 else 1 << int(len(digits) * 3.322)  # int() stops at 4300
            raise InvalidParameterError(M.out_of_range(name, number, 0, U32_MAX))
        return int(text)
    return None



def check_006_channel_uid(channel_name: str, uid: str) -> None:
    """A 006 token signs its channel name and uid: together at most
    MAX_006_CHANNEL_UID_BYTES (the same limit for building and verifying,
    whichever core is active)."""
    n = utf8_len(channel_name, "channel_name") + utf8_len(uid, "uid")
    if n > MAX_006_CHANNEL_UID_BYTES:
        raise InvalidParameterError(
            f"channel_name and uid are {n} bytes together; a 006 token allows at most "
            f"{MAX_006_CHANNEL_UID_BYTES}")


def check_permissions(permissions: Any) -> dict[int, dict[int, list[str]]]:
    """RTM2 permissions: {resource_type: {permission_type: [resource, ...]}}, or
    a ``ServiceRtm2.Permissions`` (ours or Agora's): its ``details`` mapping."""
    if permissions is None:
        return {}
    if not isinstance(permissions, Mapping):
        details = getattr(permissions, "details", None)
        if not isinstance(details, Mapping):
            raise InvalidParameterError(M.PERMISSIONS_NOT_MAPPING)
        permissions = details
    if len(permissions) > U16_MAX:
        raise InvalidParameterError(M.too_many("permissions"))
    out: dict[int, dict[int, list[str]]] = {}
    for rtype, perms in permissions.items():
        rt = check_u16(rtype, "resource type")
        if not isinstance(perms, Mapping):
            raise InvalidParameterError(M.inner_not_mapping(rt))
        if len(perms) > U16_MAX:
            raise InvalidParameterError(M.too_many(f"permissions[{rt}]"))
        inner: dict[int, list[str]] = {}
        for ptype, resources in perms.items():
            pt = check_u16(ptype, "permission type")
            if isinstance(resources, (str, bytes)) or not isinstance(resources, Sequence):
                raise InvalidParameterError(M.resources_not_iterable(rt, pt))
            if len(resources) > U16_MAX:
                raise InvalidParameterError(M.too_many(f"permissions[{rt}][{pt}]"))
            inner[pt] = [check_str(r, "resource") for r in resources]
        out[rt] = inner
    return out
