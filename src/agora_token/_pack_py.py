"""Pure-Python backend: the reference for the compiled core ``_pack.pyx``.

Both modules expose the same functions with the same behaviour and produce
byte-identical tokens; ``agora_token._backend`` picks one. Inputs reaching
this module have already been checked by ``agora_token._validate``; the few
checks here are the backstop that keeps the binary format well-formed.

Service tuples, as used by both backends::

    (type, {privilege: expire}, *fields)
    1 RTC, 3 Streaming, 6 FCDN: (channel_name, uid_or_account)
    2 RTM, 5 Chat:              (user_id,)
    4 FPA:                      ()
    7 APaaS:                    (room_uuid, user_uuid, role)
    8 RTM2:                     (user_id, {resource_type: {permission_type: [resource]}})
"""

from __future__ import annotations

import binascii
import hmac
import operator
import re
import struct
import zlib
from typing import Any, Sequence

from .constants import MAX_PAYLOAD_BYTES, MAX_TOKEN_LENGTH
from .errors import InvalidParameterError, InvalidTokenError

BACKEND = "python"

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I16 = struct.Struct("<h")
_PRIV = struct.Struct("<HI")
_HDR = struct.Struct("<IIIH")  # issue_ts, expire, salt, service count
_CRCS = struct.Struct("<II")
_MSG = struct.Struct("<II")  # 006 message: salt, ts
_SIG_PREFIX = _U16.pack(32)
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_index = operator.index
_first = operator.itemgetter(0)
_digest = hmac.digest
_compare = hmac.compare_digest
_b2a = binascii.b2a_base64
_a2b = binascii.a2b_base64

_STR2 = frozenset((1, 3, 6))
_STR1 = frozenset((2, 5))


def _str(out: list[bytes], text: str) -> None:
    if not isinstance(text, str):
        raise InvalidParameterError(f"expected a string, got {type(text).__name__}")
    try:
        b = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameterError("string is not valid text (lone surrogate)") from None
    if len(b) > 0xFFFF:
        raise InvalidParameterError(f"string is {len(b)} bytes long; at most 65535 can be packed")
    out.append(_U16.pack(len(b)))
    out.append(b)


def _privs(out: list[bytes], privileges: Any) -> None:
    # a snapshot with keys converted first, then a stable sort on the key:
    # exactly what the compiled core does, even for keys whose __index__
    # changes the dict or maps two keys to one number
    pairs = sorted([(_index(k), v) for k, v in list(privileges.items())], key=_first)
    out.append(_U16.pack(len(pairs)))
    pack = _PRIV.pack
    for k, v in pairs:
        out.append(pack(k, v))


def _pack_services(out: list[bytes], services: Sequence[tuple[Any, ...]]) -> None:
    for svc in sorted(services, key=lambda s: s[0]):  # stable: equal types keep order
        stype = svc[0]
        out.append(_U16.pack(stype))
        _privs(out, svc[1])
        if stype in _STR2:
            _str(out, svc[2])
            _str(out, svc[3])
        elif stype in _STR1:
            _str(out, svc[2])
        elif stype == 4:
            pass
        elif stype == 7:
            _str(out, svc[2])
            _str(out, svc[3])
            out.append(_I16.pack(svc[4]))
        elif stype == 8:
            _str(out, svc[2])
            perms = svc[3]
            out.append(_U16.pack(len(perms)))
            for rtype, inner in sorted(perms.items()):
                out.append(_U16.pack(rtype))
                out.append(_U16.pack(len(inner)))
                for ptype, resources in sorted(inner.items()):
                    resources = list(resources)  # the count written is the count packed
                    out.append(_U16.pack(ptype))
                    out.append(_U16.pack(len(resources)))
                    for r in resources:
                        _str(out, r)
        else:
            raise InvalidParameterError(f"unknown service type {stype}")


def _signature(cert: bytes, issue_ts: int, salt: int, info: bytes) -> bytes:
    key = _digest(_U32.pack(salt), _digest(_U32.pack(issue_ts), cert, "sha256"), "sha256")
    return _digest(key, info, "sha256")


def build_v2(app_id: str, app_certificate: str, issue_ts: int, expire: int, salt: int,
             services: Sequence[tuple[Any, ...]]) -> str:
    out: list[bytes] = []
    try:
        _str(out, app_id)
        out.append(_HDR.pack(issue_ts, expire, salt, len(services)))
        _pack_services(out, services)
    except (struct.error, TypeError, AttributeError, IndexError) as exc:
        # only reachable by mutating a service's public attributes after the checks
        raise InvalidParameterError(f"bad token field: {exc}") from None
    info = b"".join(out)
    if len(info) + 34 > MAX_PAYLOAD_BYTES:
        raise InvalidParameterError(
            f"token payload would be {len(info) + 34} bytes; at most {MAX_PAYLOAD_BYTES} are allowed")
    sig = _signature(app_certificate.encode("ascii"), issue_ts, salt, info)
    return _encode("007", zlib.compress(_SIG_PREFIX + sig + info))


def _encode(prefix: str, raw: bytes) -> str:
    """prefix + base64(raw), refusing a token that parse() would refuse as too long."""
    chars = len(prefix) + 4 * ((len(raw) + 2) // 3)
    if chars > MAX_TOKEN_LENGTH:
        raise InvalidParameterError(
            f"token would be {chars} characters long; at most {MAX_TOKEN_LENGTH} are allowed")
    return prefix + _b2a(raw, newline=False).decode("ascii")


# ------------------------------------------------------------------ parsing

def _b64(text: str) -> bytes:
    if _B64.fullmatch(text) is None:
        raise InvalidTokenError("token body is not valid base64")
    return _a2b(text)


def _check_token(token: Any, prefix: str) -> None:
    if type(token) is not str:
        raise InvalidTokenError(f"token must be a str, got {type(token).__name__}")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError(f"token is longer than {MAX_TOKEN_LENGTH} characters")
    if not token.startswith(prefix):
        raise InvalidTokenError(f"token does not start with {prefix!r}")


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise InvalidTokenError("token body is not valid zlib data") from None
    if d.unconsumed_tail:
        if len(out) >= MAX_PAYLOAD_BYTES:
            raise InvalidTokenError(f"token payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        raise InvalidTokenError("token body is not valid zlib data")  # pragma: no cover
    if not d.eof:
        if len(out) >= MAX_PAYLOAD_BYTES:
            raise InvalidTokenError(f"token payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        raise InvalidTokenError("token body is truncated (incomplete zlib stream)")
    if d.unused_data:
        raise InvalidTokenError("token body has bytes after the zlib stream")
    return out


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def u16(self) -> int:
        p = self.pos
        if p + 2 > len(self.buf):
            raise InvalidTokenError("token payload is truncated")
        self.pos = p + 2
        return self.buf[p] | (self.buf[p + 1] << 8)

    def u32(self) -> int:
        p = self.pos
        if p + 4 > len(self.buf):
            raise InvalidTokenError("token payload is truncated")
        self.pos = p + 4
        return int(_U32.unpack_from(self.buf, p)[0])

    def i16(self) -> int:
        p = self.pos
        if p + 2 > len(self.buf):
            raise InvalidTokenError("token payload is truncated")
        self.pos = p + 2
        return int(_I16.unpack_from(self.buf, p)[0])

    def raw(self) -> bytes:
        n = self.u16()
        p = self.pos
        if p + n > len(self.buf):
            raise InvalidTokenError("token payload is truncated")
        self.pos = p + n
        return self.buf[p:p + n]

    def text(self) -> str:
        try:
            return self.raw().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidTokenError("token holds a string that is not UTF-8") from None

    def privileges(self) -> dict[int, int]:
        n = self.u16()
        return {self.u16(): self.u32() for _ in range(n)}


def _read_signature(r: _Reader) -> bytes:
    sig = r.raw()
    if len(sig) != 32:
        raise InvalidTokenError(f"token signature is {len(sig)} bytes, expected 32")
    return sig


def _payload_v2(token: Any) -> bytes:
    _check_token(token, "007")
    return _inflate(_b64(token[3:]))


def parse_v2(token: str) -> tuple[bytes, str, int, int, int, list[tuple[Any, ...]]]:
    r = _Reader(_payload_v2(token))
    sig = _read_signature(r)
    app_id = r.text()
    issue_ts = r.u32()
    expire = r.u32()
    salt = r.u32()
    count = r.u16()
    services: list[tuple[Any, ...]] = []
    for _ in range(count):
        stype = r.u16()
        if not 1 <= stype <= 8:
            return sig, app_id, issue_ts, expire, salt, services  # unknown: stop here
        privs = r.privileges()
        if stype in _STR2:
            services.append((stype, privs, r.text(), r.text()))
        elif stype in _STR1:
            services.append((stype, privs, r.text()))
        elif stype == 4:
            services.append((stype, privs))
        elif stype == 7:
            services.append((stype, privs, r.text(), r.text(), r.i16()))
        else:
            user = r.text()
            perms: dict[int, dict[int, list[str]]] = {}
            for _ in range(r.u16()):
                rtype = r.u16()
                inner: dict[int, list[str]] = {}
                for _ in range(r.u16()):
                    ptype = r.u16()
                    inner[ptype] = [r.text() for _ in range(r.u16())]
                perms[rtype] = inner
            services.append((stype, privs, user, perms))
    if r.pos != len(r.buf):
        raise InvalidTokenError(f"token payload has {len(r.buf) - r.pos} unexpected trailing bytes")
    return sig, app_id, issue_ts, expire, salt, services


def verify_v2(token: str, app_certificate: str) -> bool:
    payload = _payload_v2(token)
    r = _Reader(payload)
    sig = _read_signature(r)
    start = r.pos
    r.raw()  # app_id
    issue_ts = r.u32()
    r.u32()  # expire
    salt = r.u32()
    expected = _signature(app_certificate.encode("ascii"), issue_ts, salt, payload[start:])
    return _compare(sig, expected)


# --------------------------------------------------------------- legacy 006

def _message_v1(salt: int, ts: int, privileges: Any) -> bytes:
    out = [_MSG.pack(salt, ts)]
    _privs(out, privileges)
    return b"".join(out)


def build_v1(app_id: str, app_certificate: str, channel_name: str, uid: str,
             salt: int, ts: int, privileges: Any) -> str:
    try:
        channel_b = channel_name.encode("utf-8")
        uid_b = uid.encode("utf-8")
        msg = _message_v1(salt, ts, privileges)
    except UnicodeEncodeError:
        raise InvalidParameterError("string is not valid text (lone surrogate)") from None
    except (struct.error, TypeError, AttributeError) as exc:
        raise InvalidParameterError(f"bad token field: {exc}") from None
    if len(msg) > 0xFFFF:
        raise InvalidParameterError("too many privileges")
    app_b = app_id.encode("ascii")
    sig = _digest(app_certificate.encode("ascii"), app_b + channel_b + uid_b + msg, "sha256")
    content = b"".join((
        _SIG_PREFIX, sig,
        _CRCS.pack(binascii.crc32(channel_b), binascii.crc32(uid_b)),
        _U16.pack(len(msg)), msg,
    ))
    return _encode("006" + app_id, content)


def _content_v1(token: Any) -> tuple[str, bytes]:
    _check_token(token, "006")
    if len(token) < 35:
        raise InvalidTokenError("006 token is shorter than its 35-character header")
    app_id = token[3:35]
    if not app_id.isascii():
        raise InvalidTokenError("006 token has a non-ASCII app id")
    return app_id, _b64(token[35:])


def parse_v1(token: str) -> tuple[str, bytes, int, int, int, int, dict[int, int]]:
    app_id, sig, crc_channel, crc_uid, _, salt, ts, privs = _parse_v1(token)
    return app_id, sig, crc_channel, crc_uid, salt, ts, privs


def _parse_v1(token: str) -> tuple[str, bytes, int, int, bytes, int, int, dict[int, int]]:
    app_id, content = _content_v1(token)
    r = _Reader(content)
    sig = _read_signature(r)
    crc_channel = r.u32()
    crc_uid = r.u32()
    raw_msg = r.raw()
    msg = _Reader(raw_msg)
    if r.pos != len(content):
        raise InvalidTokenError("006 token has unexpected trailing bytes")
    salt = msg.u32()
    ts = msg.u32()
    privs = msg.privileges()
    if msg.pos != len(msg.buf):
        raise InvalidTokenError("006 token message has unexpected trailing bytes")
    return app_id, sig, crc_channel, crc_uid, raw_msg, salt, ts, privs


def verify_v1(token: str, app_certificate: str, channel_name: str, uid: str) -> bool:
    app_id, sig, crc_channel, crc_uid, msg, _, _, _ = _parse_v1(token)
    channel_b = channel_name.encode("utf-8")
    uid_b = uid.encode("utf-8")
    expected = _digest(app_certificate.encode("ascii"),
                       app_id.encode("ascii") + channel_b + uid_b + msg, "sha256")
    crc_ok = crc_channel == binascii.crc32(channel_b) and crc_uid == binascii.crc32(uid_b)
    return _compare(sig, expected) and crc_ok
