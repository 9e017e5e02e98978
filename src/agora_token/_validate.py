"""Input checks shared by both cores. They run before any packing, signing
or compression, so bad input costs nothing and fails the same way whichever
core is active. At the end, the map and list snapshots both cores take while
packing (see ``_pack_py``): the compiled core calls :func:`map_keys` and
:func:`resource_list` for its one path through Python objects, RTM2
permissions, without loading the pure-Python core."""

from __future__ import annotations

from operator import index as _index
from operator import itemgetter

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

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, TypeGuard

_HEX_DIGITS = "0123456789abcdefABCDEF"


def is_app_id(text: object) -> TypeGuard[str]:
    """True when ``text`` is a str of 32 hexadecimal digits: the form of an
    Agora app id and of an app certificate."""
    # strip() leaves "" exactly when every character is one of the 22 (no regex: no ``re`` to import)
    return type(text) is str and len(text) == 32 and not text.strip(_HEX_DIGITS)


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
    if text.isascii() and text.isdigit():  # ASCII: exactly 0-9, at least one
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
    from collections.abc import Mapping, Sequence  # here: RTM2 only, and import agora_token does without

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


# ------------------------------------------------- snapshots taken while packing (both cores)

_first = itemgetter(0)


def index_in(obj: Any, what: str, lo: int, hi: int) -> int:
    """An integer (an int, or anything with ``__index__``) in lo..hi."""
    if type(obj) is not int:
        try:
            obj = _index(obj)
        except TypeError:
            raise InvalidParameterError(M.not_int(what, obj)) from None
    if lo <= obj <= hi:
        return int(obj)
    raise InvalidParameterError(M.out_of_range(what, obj, lo, hi))


def snapshot_items(m: Any, not_mapping: str, what: str) -> list[Any]:
    """A map's snapshot: ``list(m.items())``, at most 65535 entries."""
    try:
        items = list(m.items())
    except (AttributeError, TypeError):
        raise InvalidParameterError(not_mapping) from None
    if len(items) > U16_MAX:
        raise InvalidParameterError(M.too_many(what))
    return items


def map_keys(m: Any, not_mapping: str, what: str, key_what: str) -> list[tuple[int, Any]]:
    """``(u16 key, value)`` pairs of a permissions map, sorted by key (stable).
    The compiled core calls this too, for RTM2 permissions."""
    pairs = []
    for item in snapshot_items(m, not_mapping, what):
        if type(item) is not tuple or len(item) != 2:
            raise InvalidParameterError(not_mapping)
        pairs.append((index_in(item[0], key_what, 0, U16_MAX), item[1]))
    pairs.sort(key=_first)
    return pairs


def resource_list(resources: Any, rtype: int, ptype: int) -> list[Any]:
    """The resources of one permission, as a list (the count packed is the count written)."""
    try:
        items = list(resources)
    except TypeError:
        raise InvalidParameterError(M.resources_not_iterable(rtype, ptype)) from None
    if len(items) > U16_MAX:
        raise InvalidParameterError(M.too_many(f"permissions[{rtype}][{ptype}]"))
    return items
