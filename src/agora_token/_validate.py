"""Input checks shared by every backend. They run before any packing,
signing or compression, so bad input costs nothing and fails the same way
whichever backend is active."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .constants import (
    I16_MAX,
    I16_MIN,
    MAX_ACCOUNT_BYTES,
    MAX_CHANNEL_NAME_BYTES,
    MAX_STRING_BYTES,
    U16_MAX,
    U32_MAX,
)
from .errors import InvalidCredentialsError, InvalidParameterError

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_DIGITS = re.compile(r"[0-9]+")

# (app_id, certificate) pairs already checked: builders are called with the
# same credentials over and over, so check each pair once.
_checked_credentials: set[tuple[str, str]] = set()
_CHECKED_MAX = 256


def check_app_id(app_id: Any, name: str = "app_id") -> str:
    if type(app_id) is not str or _HEX32.fullmatch(app_id) is None:
        shown = repr(app_id) if type(app_id) is str and len(app_id) <= 64 else type(app_id).__name__
        raise InvalidCredentialsError(f"{name} must be 32 hexadecimal digits, got {shown}")
    return app_id


def check_certificate(cert: Any, name: str = "app_certificate") -> str:
    # Never echo a certificate, even a malformed one.
    if type(cert) is not str or _HEX32.fullmatch(cert) is None:
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
        raise InvalidParameterError(f"{name} must be an integer, got {type(value).__name__}")
    number = int(value)  # plain int for IntEnum and friends
    if not lo <= number <= hi:
        raise InvalidParameterError(f"{name} must be in {lo}..{hi}, got {number}")
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
        raise InvalidParameterError(f"{name} is not valid text (lone surrogate)") from None


def check_str(value: Any, name: str, max_bytes: int = MAX_STRING_BYTES) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string, got {type(value).__name__}")
    text = str(value)  # plain str for subclasses
    n = utf8_len(text, name)
    if n > max_bytes:
        raise InvalidParameterError(f"{name} is {n} bytes long; at most {max_bytes} are allowed")
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
            raise InvalidParameterError(f"{name} must be in 0..{U32_MAX}, got {uid}")
        return "" if uid == 0 else str(uid)
    return check_str(uid, name, max_bytes)


def parse_uid_text(text: str, name: str = "uid") -> int | None:
    """If ``text`` is plain decimal digits, the uid it names (checked to be
    u32); otherwise None (it is a user account)."""
    if text.isascii() and _DIGITS.fullmatch(text):
        # leading zeros are fine ("007" is 7); bound the digits before int()
        if len(text.lstrip("0")) > 10 or int(text) > U32_MAX:
            raise InvalidParameterError(f"{name} {text[:24]!r} is above {U32_MAX}")
        return int(text)
    return None


def check_privileges(privileges: Any, name: str = "privileges") -> dict[int, int]:
    if not isinstance(privileges, Mapping):
        raise InvalidParameterError(f"{name} must be a mapping of privilege -> expire")
    if len(privileges) > U16_MAX:
        raise InvalidParameterError(f"{name} has too many entries")
    return {
        check_u16(k, f"{name} key"): check_u32(v, f"{name}[{k!r}]")
        for k, v in privileges.items()
    }


def check_permissions(permissions: Any) -> dict[int, dict[int, list[str]]]:
    """RTM2 permissions: {resource_type: {permission_type: [resource, ...]}}."""
    if permissions is None:
        return {}
    if not isinstance(permissions, Mapping):
        raise InvalidParameterError("permissions must be a mapping {resource_type: {permission_type: [resources]}}")
    if len(permissions) > U16_MAX:
        raise InvalidParameterError("permissions has too many resource types")
    out: dict[int, dict[int, list[str]]] = {}
    for rtype, perms in permissions.items():
        rt = check_u16(rtype, "resource type")
        if not isinstance(perms, Mapping):
            raise InvalidParameterError(f"permissions[{rt}] must be a mapping {{permission_type: [resources]}}")
        if len(perms) > U16_MAX:
            raise InvalidParameterError(f"permissions[{rt}] has too many permission types")
        inner: dict[int, list[str]] = {}
        for ptype, resources in perms.items():
            pt = check_u16(ptype, "permission type")
            if isinstance(resources, (str, bytes)) or not isinstance(resources, Sequence):
                raise InvalidParameterError(f"permissions[{rt}][{pt}] must be a list of strings")
            if len(resources) > U16_MAX:
                raise InvalidParameterError(f"permissions[{rt}][{pt}] has too many resources")
            inner[pt] = [check_str(r, "resource") for r in resources]
        out[rt] = inner
    return out
