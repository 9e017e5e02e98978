"""Error messages of the two token cores (``_pack`` and ``_pack_py``) and of
``_validate``, written once: the cores must fail with the same exception
*and* the same text, which reaches API clients as a 400 body.

Both cores check their input in the same order (see ``_pack_py``) and call
these functions to word the first problem found.
"""

from __future__ import annotations

from .constants import MAX_PAYLOAD_BYTES, MAX_STRING_BYTES, MAX_TOKEN_LENGTH, U32_MAX

# -------------------------------------------------------------- build (InvalidParameterError)

SERVICES_NOT_ITERABLE = "services must be a sequence of service tuples (type, privileges, *fields)"
NOT_A_SERVICE = "a service must be a tuple (type, privileges, *fields)"
TOO_MANY_SERVICES = "a token holds at most 65535 services"
PRIVILEGES_NOT_MAPPING = "privileges must be a mapping of privilege -> expire"
PERMISSIONS_NOT_MAPPING = "permissions must be a mapping {resource_type: {permission_type: [resources]}}"
APP_ID_NOT_ASCII = "app_id must be ASCII text in a 006 token"


def show_int(value: int) -> str:
    """An integer for a message: its digits, or its size when it is huge
    (``str()`` of a 5,000-digit int raises on CPython 3.11+)."""
    if -(1 << 64) < value < (1 << 64):
        return str(value)
    return f"a {value.bit_length()}-bit integer"


def not_a_service_object(obj: object) -> str:
    return f"add_service() takes a Service, got {type(obj).__name__}"


def not_int(what: str, obj: object) -> str:
    return f"{what} must be an integer, got {type(obj).__name__}"


def out_of_range(what: str, value: int, lo: int, hi: int) -> str:
    return f"{what} must be in {lo}..{hi}, got {show_int(value)}"


def not_str(what: str, obj: object) -> str:
    return f"{what} must be a string, got {type(obj).__name__}"


def not_uid(what: str, obj: object) -> str:
    return f"{what} must be an int in 0..{U32_MAX} or a str (a user account), got {type(obj).__name__}"


def surrogate(what: str) -> str:
    return f"{what} is not valid text (lone surrogate)"


def str_too_long(what: str, n: int, limit: int = MAX_STRING_BYTES) -> str:
    return f"{what} is {n} bytes long; at most {limit} are allowed"


def too_many(what: str) -> str:
    return f"{what} has too many entries (at most 65535)"


def unknown_service(stype: int) -> str:
    return f"unknown service type {stype}"


def wrong_field_count(stype: int, n: int) -> str:
    return f"service type {stype} takes {n} fields"


def inner_not_mapping(rtype: int) -> str:
    return f"permissions[{rtype}] must be a mapping {{permission_type: [resources]}}"


def resources_not_iterable(rtype: int, ptype: int) -> str:
    return f"permissions[{rtype}][{ptype}] must be a list of strings"


def payload_too_large(n: int) -> str:
    return f"token payload would be {n} bytes; at most {MAX_PAYLOAD_BYTES} are allowed"


def message_006_too_large(n: int) -> str:
    return f"006 token message (salt, ts, privileges) would be {n} bytes; at most 65535 are allowed"


def token_too_long(chars: int) -> str:
    return f"token would be {chars} characters long; at most {MAX_TOKEN_LENGTH} are allowed"


# -------------------------------------------------------------- parse (InvalidTokenError)

BAD_BASE64 = "token body is not valid base64"
BAD_ZLIB = "token body is not valid zlib data"
TRUNCATED_ZLIB = "token body is truncated (incomplete zlib stream)"
AFTER_ZLIB = "token body has bytes after the zlib stream"
PAYLOAD_TRUNCATED = "token payload is truncated"
NOT_UTF8 = "token holds a string that is not UTF-8"
SHORT_006 = "006 token is shorter than its 35-character header"
NON_ASCII_APP_ID_006 = "006 token has a non-ASCII app id"
TRAILING_006 = "006 token has unexpected trailing bytes"
TRAILING_MESSAGE_006 = "006 token message has unexpected trailing bytes"
PAYLOAD_TOO_LARGE = f"token payload is larger than {MAX_PAYLOAD_BYTES} bytes"
TOKEN_TOO_LONG = f"token is longer than {MAX_TOKEN_LENGTH} characters"


def token_not_str(obj: object) -> str:
    return f"token must be a str, got {type(obj).__name__}"


def bad_prefix(prefix: str) -> str:
    return f"token does not start with {prefix!r}"


def bad_signature_length(n: int) -> str:
    return f"token signature is {n} bytes, expected 32"


def trailing_bytes(n: int) -> str:
    return f"token payload has {n} unexpected trailing bytes"
