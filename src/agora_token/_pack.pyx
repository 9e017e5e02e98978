# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled token core: packs, signs (HMAC-SHA256), compresses (zlib) and
base64-encodes a whole token in one call, and the matching parse/verify.

Same functions, same tokens and the same errors (type, message, order of
the checks) as the reference ``_pack_py``, whose docstring lists the order.
SHA-256 comes from libcrypto when setup.py linked it, else from the portable
SHA-256 in ``at_core.h``; zlib from libz when linked, else Python's zlib module.

Memory safety with hostile inputs: every value taken from a caller's object
is type-checked before use (no unchecked casts), maps are read from a
snapshot, and a payload buffer never grows past its limit: beyond it the
writes are only counted, so the size error comes after every other check,
as in ``_pack_py``.

Thread safety: every call runs start to finish holding the GIL and keeps its
state on the C stack or in buffers it owns; the cached zlib streams in
at_core.h and the cached first signing step (sign_007) are read and written
without Python code running in between.
"""

from libc.stdint cimport uint16_t, uint32_t, int16_t, int64_t
from libc.string cimport memcmp, memcpy
from libc.stdlib cimport qsort
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.number cimport PyNumber_Index
from cpython.dict cimport PyDict_Next

from . import _messages as _M
from ._layout import LAYOUTS as _LAYOUTS, PACK_KINDS as _PACK_KINDS
from ._validate import map_keys as _map_keys, resource_list as _resource_list
from .constants import I16_MAX, I16_MIN, U16_MAX, U32_MAX
from .constants import MAX_PAYLOAD_BYTES as _MAX_PAYLOAD, MAX_TOKEN_LENGTH as _MAX_TOKEN
from .errors import InvalidParameterError, InvalidTokenError

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t* size) except NULL
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyUnicode_AsASCIIString(object o)

cdef extern from "at_core.h":
    const int AT_HAVE_OPENSSL
    const int AT_HAVE_ZLIB
    void at_hmac_sha256(const unsigned char* key, size_t keylen,
                        const unsigned char* msg, size_t msglen, unsigned char* out)
    int at_deflate(const unsigned char* src, size_t srclen, unsigned char* dst, size_t* dstlen)
    int at_inflate(const unsigned char* src, size_t srclen, unsigned char* dst, size_t* dstlen)
    unsigned long at_crc32(const unsigned char* buf, size_t len)
    int at_sha256_detect()

BACKEND = "cython"
#: where SHA-256 and zlib come from: {"sha256": "libcrypto"|"builtin"|"builtin+sha-ni", "zlib": "libz"|"python"}
#: ("builtin+sha-ni": the built-in SHA-256 on the CPU's SHA extensions; AGORA_TOKEN_SHA_NI=0 turns them off)
FEATURES = {
    "sha256": "libcrypto" if AT_HAVE_OPENSSL else ("builtin+sha-ni" if at_sha256_detect() else "builtin"),
    "zlib": "libz" if AT_HAVE_ZLIB else "python",
}

cdef enum:
    STACK_BUF = 1024
    K_STR = 1
    K_I16 = 2
    K_PERMS = 3
    U16 = 0xFFFF

cdef int64_t U32 = U32_MAX
cdef int64_t I16_LO = I16_MIN
cdef int64_t I16_HI = I16_MAX
assert U16 == U16_MAX  # the C enum above, for speed

# The service layout in C arrays, filled from ``_layout.PACK_KINDS`` (the one
# table) when the module loads: number of fields and their kinds per service
# type 1..8. Read back as LAYOUT below; a test compares it with the table.
cdef int NFIELDS[9]
cdef int KIND[9][3]
_KIND_CODES = {"str": K_STR, "i16": K_I16, "permissions": K_PERMS}
cdef void _fill_layout() except *:
    cdef int t, k
    for t in range(9):
        NFIELDS[t] = 0
        for k in range(3):
            KIND[t][k] = 0
    for t, kinds in _PACK_KINDS.items():
        if not 1 <= t <= 8 or len(kinds) > 3:  # the arrays' bounds
            raise ImportError(f"agora_token._layout: service type {t} does not fit the compiled core's table")
        NFIELDS[t] = len(kinds)
        for k in range(len(kinds)):
            KIND[t][k] = _KIND_CODES[kinds[k]]
_fill_layout()

_KIND_NAMES = {code: name for name, code in _KIND_CODES.items()}
#: ((type, (kind, ...)), ...) for types 1..8: this core's layout table (read-only)
LAYOUT = tuple((t, tuple(_KIND_NAMES[KIND[t][k]] for k in range(NFIELDS[t]))) for t in range(1, 9))
# field names, for error messages only
_NAMES = ((),) + tuple(_LAYOUTS[t].field_names for t in range(1, 9))

cdef Py_ssize_t MAX_PAYLOAD = _MAX_PAYLOAD
cdef Py_ssize_t MAX_TOKEN = _MAX_TOKEN

# ------------------------------------------------------------------ buffer

cdef struct Buf:
    unsigned char* data
    Py_ssize_t len      # bytes written; once ``over``, bytes that would have been
    Py_ssize_t cap
    Py_ssize_t limit    # the buffer never grows past this
    bint heap
    bint over           # a write did not fit under ``limit``: later writes only count

cdef inline void buf_init(Buf* b, unsigned char* stack, Py_ssize_t cap, Py_ssize_t limit) noexcept:
    b.data = stack
    b.len = 0
    b.cap = cap
    b.limit = limit
    b.heap = False
    b.over = False

cdef inline void buf_free(Buf* b) noexcept:
    if b.heap:
        PyMem_Free(b.data)
        b.heap = False

cdef int buf_resize(Buf* b, Py_ssize_t cap) except -1:
    cdef unsigned char* p
    if b.heap:
        p = <unsigned char*>PyMem_Realloc(b.data, cap)
        if p == NULL:
            raise MemoryError()
    else:
        p = <unsigned char*>PyMem_Malloc(cap)
        if p == NULL:
            raise MemoryError()
        memcpy(p, b.data, b.len)
    b.data = p
    b.cap = cap
    b.heap = True
    return 0

cdef int buf_room(Buf* b, Py_ssize_t need) except -1:
    """Make room for ``need`` more bytes: 0 when there is room, 1 when the
    write would pass the limit (then it is only counted)."""
    cdef Py_ssize_t cap = b.cap
    if b.over or need > b.limit - b.len:
        b.over = True
        b.len = b.len + need if need <= PY_SSIZE_T_MAX - b.len else PY_SSIZE_T_MAX
        return 1
    while cap < b.len + need:
        cap *= 2
    if cap > b.limit:
        cap = b.limit
    buf_resize(b, cap)
    return 0

cdef int buf_reserve(Buf* b, Py_ssize_t total) except -1:
    """Capacity for ``total`` bytes, whatever the limit (parsing only)."""
    if total > b.cap:
        buf_resize(b, total)
    return 0

cdef inline int put_raw(Buf* b, const char* p, Py_ssize_t n) except -1:
    if b.over or n > b.cap - b.len:
        if buf_room(b, n):
            return 0
    memcpy(b.data + b.len, p, n)
    b.len += n
    return 0

cdef inline void le32(unsigned char* p, uint32_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = (v >> 24) & 0xFF

cdef inline int put_u16(Buf* b, uint32_t v) except -1:
    cdef unsigned char t[2]
    t[0] = v & 0xFF
    t[1] = (v >> 8) & 0xFF
    return put_raw(b, <const char*>t, 2)

cdef inline int put_u32(Buf* b, uint32_t v) except -1:
    cdef unsigned char t[4]
    le32(t, v)
    return put_raw(b, <const char*>t, 4)

# ------------------------------------------------------------------ checks

cdef inline const char* utf8(object text, Py_ssize_t* n, object what) except NULL:
    if not isinstance(text, str):
        raise InvalidParameterError(_M.not_str(what, text))
    try:
        return PyUnicode_AsUTF8AndSize(text, n)
    except UnicodeEncodeError:
        raise InvalidParameterError(_M.surrogate(what)) from None

cdef int put_str(Buf* b, object text, object what) except -1:
    cdef Py_ssize_t n
    cdef const char* p = utf8(text, &n, what)
    if n > U16:
        raise InvalidParameterError(_M.str_too_long(what, n))
    put_u16(b, <uint32_t>n)
    put_raw(b, p, n)
    return 0

cdef int64_t as_int(object o, int64_t lo, int64_t hi, object what) except? -1:
    """An integer (an int, or anything with __index__) in lo..hi."""
    cdef int64_t x
    if type(o) is not int:
        try:
            o = PyNumber_Index(o)
        except TypeError:
            raise InvalidParameterError(_M.not_int(what, o)) from None
    try:
        x = <int64_t>o
    except OverflowError:
        raise InvalidParameterError(_M.out_of_range(what, o, lo, hi)) from None
    if x < lo or x > hi:
        raise InvalidParameterError(_M.out_of_range(what, o, lo, hi))
    return x

cdef struct Pair:
    uint32_t key
    uint32_t value
    Py_ssize_t order

cdef int pair_cmp(const void* a, const void* b) noexcept nogil:
    cdef const Pair* x = <const Pair*>a
    cdef const Pair* y = <const Pair*>b
    if x.key != y.key:
        return -1 if x.key < y.key else 1
    return -1 if x.order < y.order else (1 if x.order > y.order else 0)

cdef int put_privileges(Buf* b, object privileges) except -1:
    cdef Pair stack[16]
    cdef Pair* pairs = stack
    cdef Pair tmp
    cdef Py_ssize_t n, i, j
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef list items = None
    cdef object item
    if type(privileges) is dict and len(<dict>privileges) <= 16:
        # fast path: walk the dict directly while every key and value is an
        # exact int (converting those runs no Python code, so nothing can
        # change the dict under us); anything else -> the snapshot path
        n = 0
        while PyDict_Next(privileges, &pos, &k, &v):
            if type(<object>k) is not int or type(<object>v) is not int:
                n = -1
                break
            pairs[n].key = <uint32_t>as_int(<object>k, 0, U16, "privilege")
            pairs[n].value = <uint32_t>as_int(<object>v, 0, U32, "privilege expire")
            pairs[n].order = n
            n += 1
    else:
        n = -1
    try:
        if n < 0:
            # a snapshot: converting a key may run Python code (__index__) that
            # changes the caller's map; we never walk a map that can change under us
            try:
                items = list(privileges.items())
            except (AttributeError, TypeError):
                raise InvalidParameterError(_M.PRIVILEGES_NOT_MAPPING) from None
            n = len(items)
            if n > U16:
                raise InvalidParameterError(_M.too_many("privileges"))
            if n > 16:
                pairs = <Pair*>PyMem_Malloc(n * sizeof(Pair))
                if pairs == NULL:
                    raise MemoryError()
            for i in range(n):
                item = items[i]
                if type(item) is not tuple or len(<tuple>item) != 2:
                    raise InvalidParameterError(_M.PRIVILEGES_NOT_MAPPING)
                pairs[i].key = <uint32_t>as_int((<tuple>item)[0], 0, U16, "privilege")
                pairs[i].value = <uint32_t>as_int((<tuple>item)[1], 0, U32, "privilege expire")
                pairs[i].order = i
        if n > 16:
            qsort(pairs, n, sizeof(Pair), pair_cmp)  # stable: ties keep their order
        else:
            for i in range(1, n):  # insertion sort (stable) for small maps
                tmp = pairs[i]
                j = i - 1
                while j >= 0 and pairs[j].key > tmp.key:
                    pairs[j + 1] = pairs[j]
                    j -= 1
                pairs[j + 1] = tmp
        put_u16(b, <uint32_t>n)
        for i in range(n):
            put_u16(b, pairs[i].key)
            put_u32(b, pairs[i].value)
    finally:
        if pairs != stack:
            PyMem_Free(pairs)
    return 0

cdef int put_permissions(Buf* b, object perms) except -1:
    # RTM2 only, so plain Python objects; the map checks come from _validate, as in _pack_py
    outer = _map_keys(perms, _M.PERMISSIONS_NOT_MAPPING, "permissions", "resource type")
    put_u16(b, <uint32_t>len(outer))
    for rtype, inner_map in outer:
        put_u16(b, <uint32_t>rtype)
        inner = _map_keys(inner_map, _M.inner_not_mapping(rtype), f"permissions[{rtype}]",
                          "permission type")
        put_u16(b, <uint32_t>len(inner))
        for ptype, resources in inner:
            items = _resource_list(resources, rtype, ptype)
            put_u16(b, <uint32_t>ptype)
            put_u16(b, <uint32_t>len(items))
            for r in items:
                put_str(b, r, "resource")
    return 0

cdef int put_service(Buf* b, tuple svc, int stype) except -1:
    """Pack one checked service: exact tuple of 2 + NFIELDS[stype] items."""
    cdef int k, kind
    cdef int64_t role
    put_u16(b, <uint32_t>stype)
    put_privileges(b, svc[1])
    for k in range(NFIELDS[stype]):
        kind = KIND[stype][k]
        if kind == K_STR:
            put_str(b, svc[2 + k], _NAMES[stype][k])
        elif kind == K_I16:
            role = as_int(svc[2 + k], I16_LO, I16_HI, _NAMES[stype][k])
            put_u16(b, <uint32_t>(<uint16_t>(<int16_t>role)))
        else:
            put_permissions(b, svc[2 + k])
    return 0

# ----------------------------------------------------------------- crypto

cdef inline int hmac256(const unsigned char* key, size_t klen, const unsigned char* msg, size_t mlen,
                        unsigned char* out) except -1:
    at_hmac_sha256(key, klen, msg, mlen, out)
    return 0


cdef extern from "at_core.h":
    ctypedef struct at_sha256_ctx:
        pass
    int at_sha256_init(at_sha256_ctx* c)
    int at_sha256_update(at_sha256_ctx* c, const void* data, size_t n)
    int at_sha256_final(unsigned char* out, at_sha256_ctx* c)


def _sha256(data):
    """SHA-256 of a bytes object with this build's SHA-256 (FEATURES["sha256"]):
    for the tests (tests/lib/test_sha256.py), not an API."""
    cdef unsigned char out[32]
    cdef at_sha256_ctx ctx
    if type(data) is not bytes:
        raise TypeError("data must be bytes")
    at_sha256_init(&ctx)
    at_sha256_update(&ctx, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    at_sha256_final(out, &ctx)
    return PyBytes_FromStringAndSize(<const char*>out, 32)


def _hmac_sha256(key, msg):
    """HMAC-SHA256 of two bytes objects with this build's SHA-256: for the tests."""
    cdef unsigned char out[32]
    if type(key) is not bytes or type(msg) is not bytes:
        raise TypeError("key and msg must be bytes")
    hmac256(<const unsigned char*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key),
            <const unsigned char*>PyBytes_AS_STRING(msg), PyBytes_GET_SIZE(msg), out)
    return PyBytes_FromStringAndSize(<const char*>out, 32)

# HMAC-SHA256(le32(issue_ts), certificate), the first step of the signature: the
# same for every token of one second and one certificate, so the last one is kept
# (as in _pack_py; certificates up to 64 bytes). Read and written holding the GIL.
cdef enum:
    TS_KEY_CERT_MAX = 64
cdef bint ts_key_valid = False
cdef uint32_t ts_key_ts = 0
cdef Py_ssize_t ts_key_certlen = 0
cdef unsigned char ts_key_cert[TS_KEY_CERT_MAX]
cdef unsigned char ts_key[32]

cdef int sign_007(const char* cert, Py_ssize_t certlen, uint32_t issue_ts, uint32_t salt,
                  const unsigned char* info, Py_ssize_t infolen, unsigned char* sig) except -1:
    global ts_key_valid, ts_key_ts, ts_key_certlen
    cdef unsigned char k4[4]
    cdef unsigned char k1[32]
    cdef unsigned char k2[32]
    if (ts_key_valid and ts_key_ts == issue_ts and ts_key_certlen == certlen
            and memcmp(ts_key_cert, cert, certlen) == 0):
        memcpy(k1, ts_key, 32)
    else:
        le32(k4, issue_ts)
        hmac256(k4, 4, <const unsigned char*>cert, certlen, k1)
        if certlen <= TS_KEY_CERT_MAX:
            memcpy(ts_key_cert, cert, certlen)
            memcpy(ts_key, k1, 32)
            ts_key_ts = issue_ts
            ts_key_certlen = certlen
            ts_key_valid = True
    le32(k4, salt)
    hmac256(k4, 4, k1, 32, k2)
    hmac256(k2, 32, info, infolen, sig)
    return 0

cdef inline bint same32(const unsigned char* a, const unsigned char* b) noexcept:
    """Constant-time comparison of two 32-byte digests."""
    cdef unsigned char acc = 0
    cdef int i
    for i in range(32):
        acc |= a[i] ^ b[i]
    return acc == 0

# ----------------------------------------------------------------- base64

cdef const char* B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
cdef signed char B64REV[256]

cdef void _init_b64rev() noexcept:
    cdef int i
    for i in range(256):
        B64REV[i] = -1
    for i in range(64):
        B64REV[<unsigned char>B64[i]] = i

_init_b64rev()

cdef object b64_token(const char* prefix, Py_ssize_t plen, const unsigned char* src, Py_ssize_t n):
    """prefix + base64(src) as a new ASCII str, written in place."""
    cdef Py_ssize_t outlen = plen + 4 * ((n + 2) // 3)
    cdef object s = PyUnicode_New(outlen, 127)
    cdef unsigned char* o = <unsigned char*>PyUnicode_DATA(s)
    cdef Py_ssize_t i = 0
    cdef uint32_t v
    memcpy(o, prefix, plen)
    o += plen
    while i + 3 <= n:
        v = (<uint32_t>src[i] << 16) | (<uint32_t>src[i + 1] << 8) | src[i + 2]
        o[0] = B64[(v >> 18) & 63]
        o[1] = B64[(v >> 12) & 63]
        o[2] = B64[(v >> 6) & 63]
        o[3] = B64[v & 63]
        o += 4
        i += 3
    if n - i == 1:
        v = <uint32_t>src[i] << 16
        o[0] = B64[(v >> 18) & 63]
        o[1] = B64[(v >> 12) & 63]
        o[2] = 61
        o[3] = 61
    elif n - i == 2:
        v = (<uint32_t>src[i] << 16) | (<uint32_t>src[i + 1] << 8)
        o[0] = B64[(v >> 18) & 63]
        o[1] = B64[(v >> 12) & 63]
        o[2] = B64[(v >> 6) & 63]
        o[3] = 61
    return s

cdef Py_ssize_t b64_decode(const unsigned char* s, Py_ssize_t n, unsigned char* out) except -1:
    """Strict standard base64 (length a multiple of 4, padding only at the
    end); out needs 3*n/4 bytes. Returns the decoded length."""
    cdef Py_ssize_t i, o = 0, pad = 0
    cdef int a, b_, c, d
    if n % 4:
        raise InvalidTokenError(_M.BAD_BASE64)
    if n >= 4:
        if s[n - 1] == 61:
            pad = 2 if s[n - 2] == 61 else 1
    for i in range(0, n, 4):
        a = B64REV[s[i]]
        b_ = B64REV[s[i + 1]]
        if i + 4 == n and pad:
            c = 0 if pad == 2 else B64REV[s[i + 2]]
            d = 0
        else:
            c = B64REV[s[i + 2]]
            d = B64REV[s[i + 3]]
        if (a | b_ | c | d) < 0:
            raise InvalidTokenError(_M.BAD_BASE64)
        out[o] = <unsigned char>((a << 2) | (b_ >> 4))
        out[o + 1] = <unsigned char>(((b_ & 15) << 4) | (c >> 2))
        out[o + 2] = <unsigned char>(((c & 3) << 6) | d)
        o += 3
    return o - pad

# ------------------------------------------------------------------ build

cdef int check_token_length(Py_ssize_t prefix, Py_ssize_t rawlen) except -1:
    """Refuse to build a token that parse() would refuse as too long."""
    cdef Py_ssize_t chars = prefix + 4 * ((rawlen + 2) // 3)
    if chars > MAX_TOKEN:
        raise InvalidParameterError(_M.token_too_long(chars))
    return 0

cdef object compress_encode(const unsigned char* payload, Py_ssize_t n):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char* out = stack
    cdef size_t outlen = n + n // 1000 + 64
    if not AT_HAVE_ZLIB:
        from ._pack_py import _compress  # the allocator note there; _pack_py only loaded without libz
        z = _compress(PyBytes_FromStringAndSize(<const char*>payload, n))
        check_token_length(3, PyBytes_GET_SIZE(z))
        return b64_token(b"007", 3, <const unsigned char*>PyBytes_AS_STRING(z), PyBytes_GET_SIZE(z))
    if outlen > STACK_BUF:
        out = <unsigned char*>PyMem_Malloc(outlen)
        if out == NULL:
            raise MemoryError()
    try:
        if at_deflate(payload, n, out, &outlen) != 0:
            raise MemoryError("zlib deflate failed")
        check_token_length(3, <Py_ssize_t>outlen)
        return b64_token(b"007", 3, out, <Py_ssize_t>outlen)
    finally:
        if out != stack:
            PyMem_Free(out)


def build_007(app_id, app_certificate, issue_ts, expire, salt, services):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char tstack[64]
    cdef unsigned char* types = tstack
    cdef Buf b
    cdef Py_ssize_t certlen, n, i, applen
    cdef const char* cert
    cdef uint32_t ts, ex, sl
    cdef int64_t t
    cdef object svc
    cdef list svcs
    buf_init(&b, stack, STACK_BUF, MAX_PAYLOAD)
    try:
        b.len = 34  # room for string(signature)
        put_str(&b, app_id, "app_id")
        cert = utf8(app_certificate, &certlen, "app_certificate")
        ts = <uint32_t>as_int(issue_ts, 0, U32, "issue_ts")
        ex = <uint32_t>as_int(expire, 0, U32, "expire")
        sl = <uint32_t>as_int(salt, 0, U32, "salt")
        try:
            svcs = list(services)
        except TypeError:
            raise InvalidParameterError(_M.SERVICES_NOT_ITERABLE) from None
        n = len(svcs)
        if n > U16:
            raise InvalidParameterError(_M.TOO_MANY_SERVICES)
        if n > 64:
            types = <unsigned char*>PyMem_Malloc(n)
            if types == NULL:
                raise MemoryError()
        for i in range(n):
            svc = svcs[i]
            if type(svc) is not tuple or len(<tuple>svc) < 2:
                raise InvalidParameterError(_M.NOT_A_SERVICE)
            t = as_int((<tuple>svc)[0], 0, U16, "service type")
            if t < 1 or t > 8:
                raise InvalidParameterError(_M.unknown_service(t))
            if len(<tuple>svc) != 2 + NFIELDS[t]:
                raise InvalidParameterError(_M.wrong_field_count(t, NFIELDS[t]))
            types[i] = <unsigned char>t
        put_u32(&b, ts)
        put_u32(&b, ex)
        put_u32(&b, sl)
        put_u16(&b, <uint32_t>n)
        for t in range(1, 9):  # by type, stable: a counting sort over 8 types
            for i in range(n):
                if types[i] == t:
                    put_service(&b, <tuple>svcs[i], <int>t)
        if b.over:
            raise InvalidParameterError(_M.payload_too_large(b.len))
        b.data[0] = 32
        b.data[1] = 0
        sign_007(cert, certlen, ts, sl, b.data + 34, b.len - 34, b.data + 2)
        return compress_encode(b.data, b.len)
    finally:
        buf_free(&b)
        if types != tstack:
            PyMem_Free(types)

# ------------------------------------------------------------------ parse

cdef struct Reader:
    const unsigned char* p
    Py_ssize_t pos
    Py_ssize_t n

cdef inline void reader_init(Reader* r, const unsigned char* p, Py_ssize_t n) noexcept:
    r.p = p
    r.pos = 0
    r.n = n

cdef inline int need(Reader* r, Py_ssize_t k) except -1:
    if k > r.n - r.pos:
        raise InvalidTokenError(_M.PAYLOAD_TRUNCATED)
    return 0

cdef inline uint32_t rd_u16(Reader* r) except? 0xFFFFFFFF:
    need(r, 2)
    cdef uint32_t v = r.p[r.pos] | (<uint32_t>r.p[r.pos + 1] << 8)
    r.pos += 2
    return v

cdef inline uint32_t rd_u32(Reader* r) except? 0xFFFFFFFF:
    need(r, 4)
    cdef const unsigned char* q = r.p + r.pos
    cdef uint32_t v = q[0] | (<uint32_t>q[1] << 8) | (<uint32_t>q[2] << 16) | (<uint32_t>q[3] << 24)
    r.pos += 4
    return v

cdef inline Py_ssize_t rd_strlen(Reader* r) except -1:
    cdef Py_ssize_t n = rd_u16(r)
    need(r, n)
    return n

cdef object rd_text(Reader* r):
    cdef Py_ssize_t n = rd_strlen(r)
    cdef Py_ssize_t start = r.pos
    r.pos += n
    try:
        return PyUnicode_DecodeUTF8(<const char*>(r.p + start), n, NULL)
    except UnicodeDecodeError:
        raise InvalidTokenError(_M.NOT_UTF8) from None

cdef dict rd_privileges(Reader* r):
    cdef uint32_t n = rd_u16(r)
    cdef uint32_t i, k
    cdef dict d = {}
    for i in range(n):
        k = rd_u16(r)
        d[k] = rd_u32(r)
    return d

cdef int check_token(object token, str prefix) except -1:
    if type(token) is not str:
        raise InvalidTokenError(_M.token_not_str(token))
    if len(<str>token) > MAX_TOKEN:
        raise InvalidTokenError(_M.TOKEN_TOO_LONG)
    if not (<str>token).startswith(prefix):
        raise InvalidTokenError(_M.bad_prefix(prefix))
    return 0

cdef const unsigned char* ascii_body(str token, Py_ssize_t skip, Py_ssize_t* n) except NULL:
    if not token.isascii():
        raise InvalidTokenError(_M.BAD_BASE64)
    cdef const char* p = PyUnicode_AsUTF8AndSize(token, n)
    n[0] -= skip
    return <const unsigned char*>(p + skip)

cdef int inflate_into(const unsigned char* z, Py_ssize_t zlen, Buf* out) except -1:
    """Inflate a whole zlib stream into out (capped at MAX_PAYLOAD)."""
    cdef size_t outlen = out.cap
    cdef int rc
    cdef unsigned char* big
    if not AT_HAVE_ZLIB:
        from ._pack_py import _inflate
        data = _inflate(PyBytes_FromStringAndSize(<const char*>z, zlen))
        buf_reserve(out, PyBytes_GET_SIZE(data))
        memcpy(out.data, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        out.len = PyBytes_GET_SIZE(data)
        return 0
    rc = at_inflate(z, zlen, out.data, &outlen)
    if rc == 1 and out.cap < MAX_PAYLOAD:
        big = <unsigned char*>PyMem_Malloc(MAX_PAYLOAD)
        if big == NULL:
            raise MemoryError()
        buf_free(out)
        out.data = big
        out.cap = MAX_PAYLOAD
        out.heap = True
        outlen = MAX_PAYLOAD
        rc = at_inflate(z, zlen, out.data, &outlen)
    if rc == 0:
        out.len = <Py_ssize_t>outlen
        return 0
    if rc == 1:
        raise InvalidTokenError(_M.PAYLOAD_TOO_LARGE)
    if rc == 2:
        raise InvalidTokenError(_M.TRUNCATED_ZLIB)
    if rc == 3:
        raise InvalidTokenError(_M.AFTER_ZLIB)
    if rc == 4:
        raise InvalidTokenError(_M.BAD_ZLIB)
    raise MemoryError()

cdef int payload_007(object token, Buf* out) except -1:
    """Decode + inflate a 007 token into out."""
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char* raw = stack
    cdef Py_ssize_t n, rawlen
    check_token(token, "007")
    cdef const unsigned char* body = ascii_body(<str>token, 3, &n)
    if n // 4 * 3 > STACK_BUF:
        raw = <unsigned char*>PyMem_Malloc(n // 4 * 3)
        if raw == NULL:
            raise MemoryError()
    try:
        rawlen = b64_decode(body, n, raw)
        inflate_into(raw, rawlen, out)
    finally:
        if raw != stack:
            PyMem_Free(raw)
    return 0

cdef bytes rd_signature(Reader* r):
    cdef Py_ssize_t n = rd_strlen(r)
    if n != 32:
        raise InvalidTokenError(_M.bad_signature_length(n))
    r.pos += 32
    return PyBytes_FromStringAndSize(<const char*>(r.p + r.pos - 32), 32)

cdef dict rd_permissions(Reader* r):
    cdef dict perms = {}, inner
    cdef uint32_t nr, np, nres, i, j, k, rtype, ptype
    cdef list resources
    nr = rd_u16(r)
    for i in range(nr):
        rtype = rd_u16(r)
        inner = {}
        np = rd_u16(r)
        for j in range(np):
            ptype = rd_u16(r)
            nres = rd_u16(r)
            resources = [rd_text(r) for k in range(nres)]
            inner[ptype] = resources
        perms[rtype] = inner
    return perms


def parse_007(token):
    cdef unsigned char stack[STACK_BUF]
    cdef Buf b
    cdef Reader r
    cdef uint32_t count, i, stype
    cdef int k, kind
    buf_init(&b, stack, STACK_BUF, MAX_PAYLOAD)
    try:
        payload_007(token, &b)
        reader_init(&r, b.data, b.len)
        sig = rd_signature(&r)
        app_id = rd_text(&r)
        issue_ts = rd_u32(&r)
        expire = rd_u32(&r)
        salt = rd_u32(&r)
        count = rd_u16(&r)
        services = []
        for i in range(count):
            stype = rd_u16(&r)
            if stype < 1 or stype > 8:
                return sig, app_id, issue_ts, expire, salt, services  # unknown type: stop
            svc = [stype, rd_privileges(&r)]
            for k in range(NFIELDS[stype]):
                kind = KIND[stype][k]
                if kind == K_STR:
                    svc.append(rd_text(&r))
                elif kind == K_I16:
                    svc.append(<int16_t>rd_u16(&r))
                else:
                    svc.append(rd_permissions(&r))
            services.append(tuple(svc))
        if r.pos != r.n:
            raise InvalidTokenError(_M.trailing_bytes(r.n - r.pos))
        return sig, app_id, issue_ts, expire, salt, services
    finally:
        buf_free(&b)


def verify_007(token, app_certificate):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char expected[32]
    cdef Buf b
    cdef Reader r
    cdef Py_ssize_t certlen, start, n
    cdef const char* cert = utf8(app_certificate, &certlen, "app_certificate")
    cdef uint32_t ts, salt
    buf_init(&b, stack, STACK_BUF, MAX_PAYLOAD)
    try:
        payload_007(token, &b)
        reader_init(&r, b.data, b.len)
        n = rd_strlen(&r)
        if n != 32:
            raise InvalidTokenError(_M.bad_signature_length(n))
        r.pos += 32
        start = r.pos
        n = rd_strlen(&r)  # app_id
        r.pos += n
        ts = rd_u32(&r)
        rd_u32(&r)  # expire
        salt = rd_u32(&r)
        sign_007(cert, certlen, ts, salt, b.data + start, b.len - start, expected)
        return same32(b.data + 2, expected)
    finally:
        buf_free(&b)

# --------------------------------------------------------------- legacy 006

cdef uint32_t crc32_of(const char* p, Py_ssize_t n) except? 0xFFFFFFFF:
    if AT_HAVE_ZLIB:
        return <uint32_t>at_crc32(<const unsigned char*>p, n)
    import zlib  # only without libz: import agora_token does not load zlib
    return zlib.crc32(PyBytes_FromStringAndSize(p, n))

cdef int sign_006(const char* cert, Py_ssize_t certlen, const char* app, Py_ssize_t alen,
                  const char* ch, Py_ssize_t chlen, const char* uid, Py_ssize_t uidlen,
                  const unsigned char* msg, Py_ssize_t msglen, unsigned char* sig) except -1:
    """HMAC-SHA256(cert, app_id + channel + uid + message), in a buffer of
    exactly that size (no limit here: the channel/uid limit is the API's)."""
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char* m = stack
    cdef Py_ssize_t total = alen + chlen + uidlen + msglen
    if total > STACK_BUF:
        m = <unsigned char*>PyMem_Malloc(total)
        if m == NULL:
            raise MemoryError()
    try:
        memcpy(m, app, alen)
        memcpy(m + alen, ch, chlen)
        memcpy(m + alen + chlen, uid, uidlen)
        memcpy(m + alen + chlen + uidlen, msg, msglen)
        hmac256(<const unsigned char*>cert, certlen, m, total, sig)
    finally:
        if m != stack:
            PyMem_Free(m)
    return 0


def build_006(app_id, app_certificate, channel_name, uid, salt, ts, privileges):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char mstack[STACK_BUF]
    cdef Buf b, m
    cdef Py_ssize_t certlen, chlen, uidlen, alen
    cdef const char* cert
    cdef const char* ch
    cdef const char* u
    cdef bytes app_b
    cdef uint32_t sl, t
    if not isinstance(app_id, str):
        raise InvalidParameterError(_M.not_str("app_id", app_id))
    try:
        app_b = PyUnicode_AsASCIIString(app_id)
    except UnicodeEncodeError:
        raise InvalidParameterError(_M.APP_ID_NOT_ASCII) from None
    alen = PyBytes_GET_SIZE(app_b)
    cert = utf8(app_certificate, &certlen, "app_certificate")
    ch = utf8(channel_name, &chlen, "channel_name")
    u = utf8(uid, &uidlen, "uid")
    sl = <uint32_t>as_int(salt, 0, U32, "salt")
    t = <uint32_t>as_int(ts, 0, U32, "ts")
    buf_init(&b, stack, STACK_BUF, 34 + 10 + U16)
    buf_init(&m, mstack, STACK_BUF, U16)
    try:
        put_u32(&m, sl)
        put_u32(&m, t)
        put_privileges(&m, privileges)
        if m.over:
            raise InvalidParameterError(_M.message_006_too_large(m.len))
        b.len = 34
        put_u32(&b, crc32_of(ch, chlen))
        put_u32(&b, crc32_of(u, uidlen))
        put_u16(&b, <uint32_t>m.len)
        put_raw(&b, <const char*>m.data, m.len)
        b.data[0] = 32
        b.data[1] = 0
        sign_006(cert, certlen, PyBytes_AS_STRING(app_b), alen, ch, chlen, u, uidlen, m.data, m.len,
                 b.data + 2)
        check_token_length(3 + alen, b.len)
        prefix = b"006" + app_b
        return b64_token(prefix, 3 + alen, b.data, b.len)
    finally:
        buf_free(&b)
        buf_free(&m)


cdef tuple parse_006_raw(object token, Buf* b):
    """-> (app_id, sig, crc_channel, crc_uid, msg_start, msg_len, salt, ts, privileges)."""
    cdef Reader r, mr
    cdef Py_ssize_t n, mlen, mstart
    check_token(token, "006")
    if len(<str>token) < 35:
        raise InvalidTokenError(_M.SHORT_006)
    app_id = (<str>token)[3:35]
    if not app_id.isascii():
        raise InvalidTokenError(_M.NON_ASCII_APP_ID_006)
    cdef const unsigned char* body = ascii_body(<str>token, 35, &n)
    buf_reserve(b, n // 4 * 3)
    b.len = b64_decode(body, n, b.data)
    reader_init(&r, b.data, b.len)
    sig = rd_signature(&r)
    crc_channel = rd_u32(&r)
    crc_uid = rd_u32(&r)
    mlen = rd_strlen(&r)
    mstart = r.pos
    if mstart + mlen != r.n:
        raise InvalidTokenError(_M.TRAILING_006)
    reader_init(&mr, b.data + mstart, mlen)
    salt = rd_u32(&mr)
    ts = rd_u32(&mr)
    privs = rd_privileges(&mr)
    if mr.pos != mr.n:
        raise InvalidTokenError(_M.TRAILING_MESSAGE_006)
    return app_id, sig, crc_channel, crc_uid, mstart, mlen, salt, ts, privs


def parse_006(token):
    cdef unsigned char stack[STACK_BUF]
    cdef Buf b
    buf_init(&b, stack, STACK_BUF, MAX_PAYLOAD)
    try:
        t = parse_006_raw(token, &b)
        return t[0], t[1], t[2], t[3], t[6], t[7], t[8]
    finally:
        buf_free(&b)


def verify_006(token, app_certificate, channel_name, uid):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char expected[32]
    cdef Buf b
    cdef Py_ssize_t certlen, chlen, uidlen, mstart, mlen
    cdef const char* cert = utf8(app_certificate, &certlen, "app_certificate")
    cdef const char* ch = utf8(channel_name, &chlen, "channel_name")
    cdef const char* u = utf8(uid, &uidlen, "uid")
    cdef bytes app_b
    buf_init(&b, stack, STACK_BUF, MAX_PAYLOAD)
    try:
        t = parse_006_raw(token, &b)
        app_b = (<str>t[0]).encode("ascii")
        mstart = t[4]
        mlen = t[5]
        sign_006(cert, certlen, PyBytes_AS_STRING(app_b), PyBytes_GET_SIZE(app_b), ch, chlen, u, uidlen,
                 b.data + mstart, mlen, expected)
        crc_ok = t[2] == crc32_of(ch, chlen) and t[3] == crc32_of(u, uidlen)
        return same32(b.data + 2, expected) and crc_ok
    finally:
        buf_free(&b)
