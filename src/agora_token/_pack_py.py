"""Pure-Python token core: the reference for the compiled ``_pack.pyx``.

Both cores expose the same six functions (``build_007``, ``parse_007``,
``verify_007`` and the ``_006`` three), produce byte-identical tokens and fail
identically: the same exception with the same message (``_messages``), the
first problem found in the same order. Inputs from the public API were
checked by ``_validate`` already; the checks here keep the format well-formed
whatever a caller later put into a service's public attributes.

Service tuples: ``(type, {privilege: expire}, *fields)``, fields as listed
in ``_layout`` (str, i16, or RTM2 permissions ``{resource_type:
{permission_type: [resource, ...]}}``).

Order of the checks in ``build_007``:

1. ``app_id`` then ``app_certificate``: a str without lone surrogates
   (``app_id`` at most 65535 bytes); ``issue_ts``, ``expire``, ``salt``: u32.
2. ``services``: iterable, at most 65535; each an exact tuple of two or
   more items whose type is a u16 in 1..8 with its number of fields.
3. Services sorted by type (stable); each packed: privileges, then its
   fields in layout order.
4. The payload at most 65536 bytes, the token at most 65536 characters.

A map (privileges, permissions) is read as a snapshot ``list(m.items())``
of exact 2-tuples, counted (at most 65535), each key (then value) converted
in turn, then sorted by key (stable). Integers are ``int`` or anything with
``__index__``; strings are ``str`` (subclasses packed as plain text).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import itertools
import operator
import re
import struct
import zlib

from . import _messages as M
from ._layout import I16, LAYOUTS, PACK_KINDS, PERMISSIONS
from ._validate import index_in as _int
from ._validate import map_keys, resource_list
from ._validate import snapshot_items as _items
from .constants import (
    I16_MAX,
    I16_MIN,
    MAX_PAYLOAD_BYTES,
    MAX_STRING_BYTES,
    MAX_TOKEN_LENGTH,
    U16_MAX,
    U32_MAX,
)
from .errors import InvalidParameterError, InvalidTokenError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

BACKEND = "python"
#: where SHA-256 and zlib come from (the compiled core reports libcrypto / libz when linked)
FEATURES = {"sha256": "python", "zlib": "python"}

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I16 = struct.Struct("<h")
_PRIV = struct.Struct("<HI")
_HDR = struct.Struct("<IIIH")  # issue_ts, expire, salt, service count
_CRCS = struct.Struct("<II")
_MSG = struct.Struct("<II")  # 006 message: salt, ts
_SIG_PREFIX = _U16.pack(32)
_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_first = operator.itemgetter(0)
_compare = hmac.compare_digest
_sha256 = hashlib.sha256
#: a key's bytes XOR 0x36 / 0x5c (RFC 2104's ipad and opad), by bytes.translate
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_b2a = binascii.b2a_base64
_a2b = binascii.a2b_base64
_encode_str = str.encode  # not text.encode: a str subclass may override encode()
_chain = itertools.chain.from_iterable
_PRIVS_FAST = 16
_PRIVS_N = [struct.Struct("<H" + "HI" * n) for n in range(_PRIVS_FAST + 1)]  # count + n pairs
#: HMAC-SHA256(le32(issue_ts), certificate): the first step of the signature, the
#: same for every token of one second and one certificate, so kept: (issue_ts, cert, key)
_ts_key: tuple[int, bytes, bytes] = (-1, b"", b"")
U16 = U16_MAX
U32 = U32_MAX
_ASCII_FAST = 1024  # an ASCII str this short packs as itself, no further checks needed

# type -> ((is_str, is_i16, field name), ...) in packing order
_FIELDS: dict[int, tuple[tuple[bool, bool, str], ...]] = {
    t: tuple((kind == "str", kind == I16, f.name) for kind, f in zip(PACK_KINDS[t], LAYOUTS[t].fields))
    for t in LAYOUTS
}
_STR_ONLY = frozenset(t for t, kinds in PACK_KINDS.items() if all(k == "str" for k in kinds))
assert all(k in ("str", I16, PERMISSIONS) for kinds in PACK_KINDS.values() for k in kinds)


# ------------------------------------------------------------------ checks

def _utf8(obj: Any, what: str) -> bytes:
    if not isinstance(obj, str):
        raise InvalidParameterError(M.not_str(what, obj))
    try:
        return _encode_str(obj, "utf-8")
    except UnicodeEncodeError:
        raise InvalidParameterError(M.surrogate(what)) from None


def _str(out: list[bytes], obj: Any, what: str) -> None:
    b = _utf8(obj, what)
    if len(b) > MAX_STRING_BYTES:
        raise InvalidParameterError(M.str_too_long(what, len(b)))
    out.append(_U16.pack(len(b)))
    out.append(b)


def _privs(out: list[bytes], privileges: Any) -> None:
    if type(privileges) is dict and len(privileges) <= _PRIVS_FAST:
        # fast path: an exact dict of in-range exact ints (checking them runs
        # no Python code); anything else takes the snapshot path below
        for k, v in privileges.items():
            if type(k) is not int or type(v) is not int:
                break
        else:
            try:
                out.append(_PRIVS_N[len(privileges)].pack(len(privileges), *_chain(sorted(privileges.items()))))
                return
            except struct.error:
                pass  # a value out of range: the path below words it
    pairs = []
    for item in _items(privileges, M.PRIVILEGES_NOT_MAPPING, "privileges"):
        if type(item) is not tuple or len(item) != 2:
            raise InvalidParameterError(M.PRIVILEGES_NOT_MAPPING)
        k, v = item
        if type(k) is not int or not 0 <= k <= U16:
            k = _int(k, "privilege", 0, U16)
        if type(v) is not int or not 0 <= v <= U32:
            v = _int(v, "privilege expire", 0, U32)
        pairs.append((k, v))
    pairs.sort(key=_first)
    out.append(_U16.pack(len(pairs)))
    pack = _PRIV.pack
    for k, v in pairs:
        out.append(pack(k, v))


def _perms(out: list[bytes], perms: Any) -> None:
    outer = map_keys(perms, M.PERMISSIONS_NOT_MAPPING, "permissions", "resource type")
    out.append(_U16.pack(len(outer)))
    for rtype, inner_map in outer:
        out.append(_U16.pack(rtype))
        inner = map_keys(inner_map, M.inner_not_mapping(rtype), f"permissions[{rtype}]", "permission type")
        out.append(_U16.pack(len(inner)))
        for ptype, resources in inner:
            items = resource_list(resources, rtype, ptype)
            out.append(_U16.pack(ptype))
            out.append(_U16.pack(len(items)))
            for r in items:
                _str(out, r, "resource")


def _services(services: Any) -> list[tuple[int, tuple[Any, ...]]]:
    """(type, service) for each service, checked, sorted by type (stable)."""
    try:
        svcs = list(services)
    except TypeError:
        raise InvalidParameterError(M.SERVICES_NOT_ITERABLE) from None
    if len(svcs) > U16:
        raise InvalidParameterError(M.TOO_MANY_SERVICES)
    keyed = []
    for svc in svcs:
        if type(svc) is not tuple or len(svc) < 2:
            raise InvalidParameterError(M.NOT_A_SERVICE)
        t = svc[0]
        if type(t) is not int or not 0 <= t <= U16:
            t = _int(t, "service type", 0, U16)
        fields = _FIELDS.get(t)
        if fields is None:
            raise InvalidParameterError(M.unknown_service(t))
        if len(svc) != 2 + len(fields):
            raise InvalidParameterError(M.wrong_field_count(t, len(fields)))
        keyed.append((t, svc))
    keyed.sort(key=_first)
    return keyed


def _pack_service(out: list[bytes], t: int, svc: tuple[Any, ...]) -> None:
    out.append(_U16.pack(t))
    _privs(out, svc[1])
    if t in _STR_ONLY:
        for i, (_, _, name) in enumerate(_FIELDS[t], 2):
            text = svc[i]
            if type(text) is str and len(text) <= _ASCII_FAST and text.isascii():
                out.append(_U16.pack(len(text)))
                out.append(_encode_str(text, "ascii"))
            else:
                _str(out, text, name)
        return
    for i, (is_str, is_i16, name) in enumerate(_FIELDS[t], 2):
        if is_str:
            _str(out, svc[i], name)
        elif is_i16:
            out.append(_I16.pack(_int(svc[i], name, I16_MIN, I16_MAX)))
        else:
            _perms(out, svc[i])


# ------------------------------------------------------------------ build

def _hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) composed from ``hashlib.sha256``: the same bytes
    as ``hmac.digest(key, msg, "sha256")`` (tests/lib/test_sha256.py: RFC 4231
    and a differential), in about 2/3 of its time for messages this short
    (OpenSSL 3's one-shot HMAC looks its digest up by name on every call)."""
    if len(key) > 64:
        key = _sha256(key).digest()
    key = key.ljust(64, b"\0")
    return _sha256(key.translate(_OPAD) + _sha256(key.translate(_IPAD) + msg).digest()).digest()


def _signature(cert: bytes, issue_ts: int, salt: int, info: bytes) -> bytes:
    global _ts_key
    last_ts, last_cert, k1 = _ts_key  # one tuple: threads see a whole entry or none
    if last_ts != issue_ts or last_cert != cert:
        k1 = _hmac_sha256(_U32.pack(issue_ts), cert)
        _ts_key = (issue_ts, cert, k1)
    return _hmac_sha256(_hmac_sha256(_U32.pack(salt), k1), info)


# The allocator effect. zlib.compress allocates about 270 KB of deflate state and
# frees it again. glibc's malloc gives freed memory at the top of its heap back to
# the kernel once it passes a trim threshold (128 KiB until the process frees a
# large mmap'ed block, which raises the threshold), so in a process still at the
# default every call then pays ~19 page faults to get it back: 3 to 7 times the
# cost of the compression itself. Freeing one 1 MiB block (mmap'ed, never touched)
# before the first compression raises glibc's thresholds to where a long-running
# process usually has them already (mmap above 1 MiB, trim above 2 MiB): the
# state is then reused from the heap. Settings made with mallopt() or MALLOC_*
# variables turn this adjustment off in glibc and so are kept; other allocators
# ignore it. Measured in docs/benchmarks.md ("the allocator effect").
_HEAP_PRIMER_BYTES = 1 << 20


def _compress_first(data: bytes) -> bytes:
    """zlib.compress, the first time: prime the allocator (above), then
    rebind ``_compress`` to zlib.compress itself."""
    global _compress
    primer = bytes(_HEAP_PRIMER_BYTES)
    del primer
    _compress = zlib.compress
    return _compress(data)


#: zlib.compress (after a one-time allocator primer); the compiled core's
#: fallback without libz calls it too
_compress = _compress_first


def _u32(obj: Any, what: str) -> int:
    if type(obj) is int and 0 <= obj <= U32:
        return obj
    return _int(obj, what, 0, U32)


def build_007(app_id: str, app_certificate: str, issue_ts: int, expire: int, salt: int,
              services: Sequence[tuple[Any, ...]]) -> str:
    if type(app_id) is str and len(app_id) <= _ASCII_FAST and app_id.isascii():
        out = [_U16.pack(len(app_id)), _encode_str(app_id, "ascii")]
    else:
        out = []
        _str(out, app_id, "app_id")
    if type(app_certificate) is str and app_certificate.isascii():
        cert = _encode_str(app_certificate, "ascii")
    else:
        cert = _utf8(app_certificate, "app_certificate")
    ts, ex, sl = _u32(issue_ts, "issue_ts"), _u32(expire, "expire"), _u32(salt, "salt")
    svcs = _services(services)
    out.append(_HDR.pack(ts, ex, sl, len(svcs)))
    for t, svc in svcs:
        _pack_service(out, t, svc)
    info = b"".join(out)
    if len(info) + 34 > MAX_PAYLOAD_BYTES:
        raise InvalidParameterError(M.payload_too_large(len(info) + 34))
    sig = _signature(cert, ts, sl, info)
    return _encode("007", _compress(_SIG_PREFIX + sig + info))


def _encode(prefix: str, raw: bytes) -> str:
    """prefix + base64(raw), refusing a token that parse() would refuse as too long."""
    chars = len(prefix) + 4 * ((len(raw) + 2) // 3)
    if chars > MAX_TOKEN_LENGTH:
        raise InvalidParameterError(M.token_too_long(chars))
    return prefix + _b2a(raw, newline=False).decode("ascii")


# ------------------------------------------------------------------ parsing

def _b64(text: str) -> bytes:
    if _B64.fullmatch(text) is None:
        raise InvalidTokenError(M.BAD_BASE64)
    return _a2b(text)


def _check_token(token: Any, prefix: str) -> None:
    if type(token) is not str:
        raise InvalidTokenError(M.token_not_str(token))
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError(M.TOKEN_TOO_LONG)
    if not token.startswith(prefix):
        raise InvalidTokenError(M.bad_prefix(prefix))


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise InvalidTokenError(M.BAD_ZLIB) from None
    if d.unconsumed_tail:
        if len(out) >= MAX_PAYLOAD_BYTES:
            raise InvalidTokenError(M.PAYLOAD_TOO_LARGE)
        raise InvalidTokenError(M.BAD_ZLIB)  # pragma: no cover
    if not d.eof:
        if len(out) >= MAX_PAYLOAD_BYTES:
            raise InvalidTokenError(M.PAYLOAD_TOO_LARGE)
        raise InvalidTokenError(M.TRUNCATED_ZLIB)
    if d.unused_data:
        raise InvalidTokenError(M.AFTER_ZLIB)
    return out


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def u16(self) -> int:
        p = self.pos
        if p + 2 > len(self.buf):
            raise InvalidTokenError(M.PAYLOAD_TRUNCATED)
        self.pos = p + 2
        return self.buf[p] | (self.buf[p + 1] << 8)

    def u32(self) -> int:
        p = self.pos
        if p + 4 > len(self.buf):
            raise InvalidTokenError(M.PAYLOAD_TRUNCATED)
        self.pos = p + 4
        return int(_U32.unpack_from(self.buf, p)[0])

    def i16(self) -> int:
        p = self.pos
        if p + 2 > len(self.buf):
            raise InvalidTokenError(M.PAYLOAD_TRUNCATED)
        self.pos = p + 2
        return int(_I16.unpack_from(self.buf, p)[0])

    def raw(self) -> bytes:
        n = self.u16()
        p = self.pos
        if p + n > len(self.buf):
            raise InvalidTokenError(M.PAYLOAD_TRUNCATED)
        self.pos = p + n
        return self.buf[p:p + n]

    def text(self) -> str:
        try:
            return self.raw().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidTokenError(M.NOT_UTF8) from None

    def privileges(self) -> dict[int, int]:
        n = self.u16()
        return {self.u16(): self.u32() for _ in range(n)}

    def permissions(self) -> dict[int, dict[int, list[str]]]:
        perms: dict[int, dict[int, list[str]]] = {}
        for _ in range(self.u16()):
            rtype = self.u16()
            inner: dict[int, list[str]] = {}
            for _ in range(self.u16()):
                ptype = self.u16()
                inner[ptype] = [self.text() for _ in range(self.u16())]
            perms[rtype] = inner
        return perms


def _read_signature(r: _Reader) -> bytes:
    sig = r.raw()
    if len(sig) != 32:
        raise InvalidTokenError(M.bad_signature_length(len(sig)))
    return sig


def _payload_007(token: Any) -> bytes:
    _check_token(token, "007")
    return _inflate(_b64(token[3:]))


def parse_007(token: str) -> tuple[bytes, str, int, int, int, list[tuple[Any, ...]]]:
    r = _Reader(_payload_007(token))
    sig = _read_signature(r)
    app_id = r.text()
    issue_ts = r.u32()
    expire = r.u32()
    salt = r.u32()
    count = r.u16()
    services: list[tuple[Any, ...]] = []
    for _ in range(count):
        stype = r.u16()
        fields = _FIELDS.get(stype)
        if fields is None:
            return sig, app_id, issue_ts, expire, salt, services  # unknown type: stop here
        svc: list[Any] = [stype, r.privileges()]
        for is_str, is_i16, _name in fields:
            svc.append(r.text() if is_str else r.i16() if is_i16 else r.permissions())
        services.append(tuple(svc))
    if r.pos != len(r.buf):
        raise InvalidTokenError(M.trailing_bytes(len(r.buf) - r.pos))
    return sig, app_id, issue_ts, expire, salt, services


def verify_007(token: str, app_certificate: str) -> bool:
    cert = _utf8(app_certificate, "app_certificate")
    payload = _payload_007(token)
    r = _Reader(payload)
    sig = _read_signature(r)
    start = r.pos
    r.raw()  # app_id
    issue_ts = r.u32()
    r.u32()  # expire
    salt = r.u32()
    return _compare(sig, _signature(cert, issue_ts, salt, payload[start:]))


# --------------------------------------------------------------- legacy 006

def build_006(app_id: str, app_certificate: str, channel_name: str, uid: str,
              salt: int, ts: int, privileges: Any) -> str:
    if not isinstance(app_id, str):
        raise InvalidParameterError(M.not_str("app_id", app_id))
    try:
        app_b = _encode_str(app_id, "ascii")
    except UnicodeEncodeError:
        raise InvalidParameterError(M.APP_ID_NOT_ASCII) from None
    cert = _utf8(app_certificate, "app_certificate")
    channel_b = _utf8(channel_name, "channel_name")
    uid_b = _utf8(uid, "uid")
    out = [_MSG.pack(_u32(salt, "salt"), _u32(ts, "ts"))]
    _privs(out, privileges)
    msg = b"".join(out)
    if len(msg) > U16:
        raise InvalidParameterError(M.message_006_too_large(len(msg)))
    sig = _hmac_sha256(cert, app_b + channel_b + uid_b + msg)
    content = b"".join((
        _SIG_PREFIX, sig,
        _CRCS.pack(binascii.crc32(channel_b), binascii.crc32(uid_b)),
        _U16.pack(len(msg)), msg,
    ))
    return _encode("006" + app_b.decode("ascii"), content)


def _content_006(token: Any) -> tuple[str, bytes]:
    _check_token(token, "006")
    if len(token) < 35:
        raise InvalidTokenError(M.SHORT_006)
    app_id = token[3:35]
    if not app_id.isascii():
        raise InvalidTokenError(M.NON_ASCII_APP_ID_006)
    return app_id, _b64(token[35:])


def parse_006(token: str) -> tuple[str, bytes, int, int, int, int, dict[int, int]]:
    app_id, sig, crc_channel, crc_uid, _, salt, ts, privs = _parse_006(token)
    return app_id, sig, crc_channel, crc_uid, salt, ts, privs


def _parse_006(token: str) -> tuple[str, bytes, int, int, bytes, int, int, dict[int, int]]:
    app_id, content = _content_006(token)
    r = _Reader(content)
    sig = _read_signature(r)
    crc_channel = r.u32()
    crc_uid = r.u32()
    raw_msg = r.raw()
    msg = _Reader(raw_msg)
    if r.pos != len(content):
        raise InvalidTokenError(M.TRAILING_006)
    salt = msg.u32()
    ts = msg.u32()
    privs = msg.privileges()
    if msg.pos != len(msg.buf):
        raise InvalidTokenError(M.TRAILING_MESSAGE_006)
    return app_id, sig, crc_channel, crc_uid, raw_msg, salt, ts, privs


def verify_006(token: str, app_certificate: str, channel_name: str, uid: str) -> bool:
    cert = _utf8(app_certificate, "app_certificate")
    channel_b = _utf8(channel_name, "channel_name")
    uid_b = _utf8(uid, "uid")
    app_id, sig, crc_channel, crc_uid, msg, _, _, _ = _parse_006(token)
    expected = _hmac_sha256(cert, app_id.encode("ascii") + channel_b + uid_b + msg)
    crc_ok = crc_channel == binascii.crc32(channel_b) and crc_uid == binascii.crc32(uid_b)
    return _compare(sig, expected) and crc_ok
