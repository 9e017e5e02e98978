# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled token core: packs, signs (HMAC-SHA256), compresses (zlib) and
base64-encodes a whole token in one call, and the matching parse/verify.

Same functions, same behaviour and byte-identical output as the reference
``_pack_py``; see that module for the service tuple layout. SHA-256 and zlib
come from libcrypto / libz when setup.py found them (``at_core.h``), else
from Python's hmac / zlib modules.

Thread safety: every call runs start to finish holding the GIL and keeps its
state on the C stack or in buffers it owns; the cached zlib streams in
at_core.h are taken and returned without Python code running in between.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, int16_t, int64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.number cimport PyNumber_Index
from cpython.dict cimport PyDict_Next

import hmac as _hmac
import zlib as _zlib

from .constants import MAX_PAYLOAD_BYTES as _MAX_PAYLOAD, MAX_TOKEN_LENGTH as _MAX_TOKEN
from .errors import InvalidParameterError, InvalidTokenError

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object o)
    const char* PyUnicode_AsUTF8AndSize(object o, Py_ssize_t* size) except NULL
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)

cdef extern from "at_core.h":
    const int AT_HAVE_OPENSSL
    const int AT_HAVE_ZLIB
    void at_hmac_sha256(const unsigned char* key, size_t keylen,
                        const unsigned char* msg, size_t msglen, unsigned char* out)
    int at_deflate(const unsigned char* src, size_t srclen, unsigned char* dst, size_t* dstlen)
    int at_inflate(const unsigned char* src, size_t srclen, unsigned char* dst, size_t* dstlen)
    unsigned long at_crc32(const unsigned char* buf, size_t len)

BACKEND = "cython"
#: which C libraries this build uses: {"sha256": "libcrypto"|"python", "zlib": "libz"|"python"}
FEATURES = {
    "sha256": "libcrypto" if AT_HAVE_OPENSSL else "python",
    "zlib": "libz" if AT_HAVE_ZLIB else "python",
}

cdef enum:
    STACK_BUF = 1024
# tuple length of each service type: (type, privileges, *fields)
cdef int FIELDS[9]
FIELDS[:] = [0, 4, 3, 4, 2, 3, 4, 5, 4]
cdef Py_ssize_t MAX_PAYLOAD = _MAX_PAYLOAD
cdef Py_ssize_t MAX_TOKEN = _MAX_TOKEN
_py_hmac_digest = _hmac.digest
_py_compress = _zlib.compress

# ------------------------------------------------------------------ buffer

cdef struct Buf:
    unsigned char* data
    Py_ssize_t len
    Py_ssize_t cap
    bint heap

cdef inline void buf_init(Buf* b, unsigned char* stack, Py_ssize_t cap) noexcept:
    b.data = stack
    b.len = 0
    b.cap = cap
    b.heap = False

cdef inline void buf_free(Buf* b) noexcept:
    if b.heap:
        PyMem_Free(b.data)
        b.heap = False

cdef int buf_grow(Buf* b, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap = b.cap
    cdef unsigned char* p
    if b.len + need > MAX_PAYLOAD:
        raise InvalidParameterError(
            f"token payload would be larger than {MAX_PAYLOAD} bytes")
    while cap < b.len + need:
        cap *= 2
    if cap > MAX_PAYLOAD:
        cap = MAX_PAYLOAD
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

cdef inline int put_u16(Buf* b, uint32_t v) except -1:
    if b.len + 2 > b.cap:
        buf_grow(b, 2)
    b.data[b.len] = v & 0xFF
    b.data[b.len + 1] = (v >> 8) & 0xFF
    b.len += 2
    return 0

cdef inline void le32(unsigned char* p, uint32_t v) noexcept:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = (v >> 24) & 0xFF

cdef inline int put_u32(Buf* b, uint32_t v) except -1:
    if b.len + 4 > b.cap:
        buf_grow(b, 4)
    le32(b.data + b.len, v)
    b.len += 4
    return 0

cdef inline int put_raw(Buf* b, const char* p, Py_ssize_t n) except -1:
    if b.len + n > b.cap:
        buf_grow(b, n)
    memcpy(b.data + b.len, p, n)
    b.len += n
    return 0

cdef inline const char* utf8(object text, Py_ssize_t* n) except NULL:
    if not isinstance(text, str):
        raise InvalidParameterError(f"expected a string, got {type(text).__name__}")
    try:
        return PyUnicode_AsUTF8AndSize(text, n)
    except UnicodeEncodeError:
        raise InvalidParameterError("string is not valid text (lone surrogate)") from None

cdef int put_str(Buf* b, object text) except -1:
    cdef Py_ssize_t n
    cdef const char* p = utf8(text, &n)
    if n > 0xFFFF:
        raise InvalidParameterError(f"string is {n} bytes long; at most 65535 can be packed")
    put_u16(b, <uint32_t>n)
    put_raw(b, p, n)
    return 0

cdef inline int64_t as_int(object o) except? -1:
    """An integer argument: ints and objects with __index__ (IntEnum, bool),
    like struct.pack in the Python backend; never floats or Decimals."""
    if type(o) is not int:
        try:
            o = PyNumber_Index(o)
        except TypeError:
            raise InvalidParameterError(f"expected an integer, got {type(o).__name__}") from None
    try:
        return <int64_t>o
    except OverflowError:
        raise InvalidParameterError(f"value out of range: {o!r}") from None

cdef inline uint32_t as_uint(object o, uint32_t hi) except? 0xFFFFFFFF:
    cdef int64_t x = as_int(o)
    if x < 0 or x > hi:
        raise InvalidParameterError(f"value out of range: {x}")
    return <uint32_t>x

cdef struct Pair:
    uint32_t key
    uint32_t value

cdef int put_privileges(Buf* b, object privileges) except -1:
    cdef Pair stack[16]
    cdef Pair* pairs = stack
    cdef Pair tmp
    cdef Py_ssize_t n, i, j
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef list items = None
    if type(privileges) is dict and len(<dict>privileges) <= 16:
        # fast path: walk the dict directly while every key and value is an
        # exact int (converting those runs no Python code, so nothing can
        # change the dict under us); anything else -> the snapshot path
        n = 0
        while PyDict_Next(privileges, &pos, &k, &v):
            if type(<object>k) is not int or type(<object>v) is not int:
                n = -1
                break
            pairs[n].key = as_uint(<object>k, 0xFFFF)
            pairs[n].value = as_uint(<object>v, 0xFFFFFFFF)
            n += 1
    else:
        n = -1
    if n < 0:
        # a snapshot: converting a key may run Python code (__index__) that
        # changes the caller's dict; we never walk a dict that can change under us
        try:
            items = list(privileges.items())
        except AttributeError:
            raise InvalidParameterError("privileges must be a mapping of privilege -> expire") from None
        n = len(items)
        if n > 0xFFFF:
            raise InvalidParameterError("too many privileges")
        if n > 16:
            pairs = <Pair*>PyMem_Malloc(n * sizeof(Pair))
            if pairs == NULL:
                raise MemoryError()
    try:
        for i in range(n if items is not None else 0):
            k2, v2 = <tuple>items[i]
            pairs[i].key = as_uint(k2, 0xFFFF)
            pairs[i].value = as_uint(v2, 0xFFFFFFFF)
        for i in range(1, n):  # insertion sort by key; maps are tiny
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
    cdef object items = sorted(perms.items())
    put_u16(b, as_uint(len(items), 0xFFFF))
    for rtype, inner in items:
        put_u16(b, as_uint(rtype, 0xFFFF))
        inner_items = sorted(inner.items())
        put_u16(b, as_uint(len(inner_items), 0xFFFF))
        for ptype, resources in inner_items:
            put_u16(b, as_uint(ptype, 0xFFFF))
            resources = list(resources)  # the count written is the count packed
            put_u16(b, as_uint(len(resources), 0xFFFF))
            for r in resources:
                put_str(b, r)
    return 0

cdef int put_service(Buf* b, object obj) except -1:
    if type(obj) is not tuple or len(<tuple>obj) < 2:
        raise InvalidParameterError("a service must be a tuple (type, privileges, *fields)")
    cdef tuple svc = <tuple>obj
    cdef uint32_t stype = as_uint(svc[0], 0xFFFF)
    cdef int64_t role
    if stype < 1 or stype > 8:
        raise InvalidParameterError(f"unknown service type {stype}")
    if len(svc) != FIELDS[stype]:
        raise InvalidParameterError(f"service type {stype} takes {FIELDS[stype] - 2} fields")
    put_u16(b, stype)
    put_privileges(b, svc[1])
    if stype == 1 or stype == 3 or stype == 6:
        put_str(b, svc[2])
        put_str(b, svc[3])
    elif stype == 2 or stype == 5:
        put_str(b, svc[2])
    elif stype == 4:
        pass
    elif stype == 7:
        put_str(b, svc[2])
        put_str(b, svc[3])
        role = as_int(svc[4])
        if role < -32768 or role > 32767:
            raise InvalidParameterError(f"value out of range: {role}")
        put_u16(b, <uint32_t>(<uint16_t>(<int16_t>role)))
    elif stype == 8:
        put_str(b, svc[2])
        put_permissions(b, svc[3])
    else:
        raise InvalidParameterError(f"unknown service type {stype}")
    return 0

# ----------------------------------------------------------------- crypto

cdef int hmac256(const unsigned char* key, size_t klen, const unsigned char* msg, size_t mlen,
                 unsigned char* out) except -1:
    if AT_HAVE_OPENSSL:
        at_hmac_sha256(key, klen, msg, mlen, out)
    else:
        d = _py_hmac_digest(PyBytes_FromStringAndSize(<const char*>key, klen),
                            PyBytes_FromStringAndSize(<const char*>msg, mlen), "sha256")
        memcpy(out, PyBytes_AS_STRING(d), 32)
    return 0

cdef int sign_v2(const char* cert, Py_ssize_t certlen, uint32_t issue_ts, uint32_t salt,
                 const unsigned char* info, Py_ssize_t infolen, unsigned char* sig) except -1:
    cdef unsigned char k4[4]
    cdef unsigned char k1[32]
    cdef unsigned char k2[32]
    le32(k4, issue_ts)
    hmac256(k4, 4, <const unsigned char*>cert, certlen, k1)
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
        raise InvalidTokenError("token body is not valid base64")
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
            raise InvalidTokenError("token body is not valid base64")
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
        raise InvalidParameterError(
            f"token would be {chars} characters long; at most {MAX_TOKEN} are allowed")
    return 0

cdef object compress_encode(const unsigned char* payload, Py_ssize_t n):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char* out = stack
    cdef size_t outlen = n + n // 1000 + 64
    if not AT_HAVE_ZLIB:
        z = _py_compress(PyBytes_FromStringAndSize(<const char*>payload, n))
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


def build_v2(str app_id, str app_certificate, issue_ts, expire, salt, services):
    cdef unsigned char stack[STACK_BUF]
    cdef Buf b
    cdef Py_ssize_t certlen, n, i, j
    cdef const char* cert = utf8(app_certificate, &certlen)
    cdef uint32_t ts = as_uint(issue_ts, 0xFFFFFFFF)
    cdef uint32_t ex = as_uint(expire, 0xFFFFFFFF)
    cdef uint32_t sl = as_uint(salt, 0xFFFFFFFF)
    cdef list svcs = list(services)
    n = len(svcs)
    if n > 0xFFFF:
        raise InvalidParameterError("a token holds at most 65535 services")
    # stable sort by service type (insertion sort on a copy: lists are tiny)
    cdef object cur
    for cur in svcs:
        if type(cur) is not tuple or len(<tuple>cur) < 2:
            raise InvalidParameterError("a service must be a tuple (type, privileges, *fields)")
    for i in range(1, n):
        cur = svcs[i]
        j = i - 1
        while j >= 0 and (<tuple>svcs[j])[0] > (<tuple>cur)[0]:
            svcs[j + 1] = svcs[j]
            j -= 1
        svcs[j + 1] = cur
    buf_init(&b, stack, STACK_BUF)
    try:
        b.len = 34  # room for string(signature)
        put_str(&b, app_id)
        put_u32(&b, ts)
        put_u32(&b, ex)
        put_u32(&b, sl)
        put_u16(&b, <uint32_t>n)
        for i in range(n):
            put_service(&b, svcs[i])
        b.data[0] = 32
        b.data[1] = 0
        sign_v2(cert, certlen, ts, sl, b.data + 34, b.len - 34, b.data + 2)
        return compress_encode(b.data, b.len)
    finally:
        buf_free(&b)

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
    if r.pos + k > r.n:
        raise InvalidTokenError("token payload is truncated")
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
        raise InvalidTokenError("token holds a string that is not UTF-8") from None

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
        raise InvalidTokenError(f"token must be a str, got {type(token).__name__}")
    if len(<str>token) > MAX_TOKEN:
        raise InvalidTokenError(f"token is longer than {MAX_TOKEN} characters")
    if not (<str>token).startswith(prefix):
        raise InvalidTokenError(f"token does not start with {prefix!r}")
    return 0

cdef const unsigned char* ascii_body(str token, Py_ssize_t skip, Py_ssize_t* n) except NULL:
    if not token.isascii():
        raise InvalidTokenError("token body is not valid base64")
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
        if PyBytes_GET_SIZE(data) > out.cap:
            buf_grow(out, PyBytes_GET_SIZE(data))
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
        raise InvalidTokenError(f"token payload is larger than {MAX_PAYLOAD} bytes")
    if rc == 2:
        raise InvalidTokenError("token body is truncated (incomplete zlib stream)")
    if rc == 3:
        raise InvalidTokenError("token body has bytes after the zlib stream")
    if rc == 4:
        raise InvalidTokenError("token body is not valid zlib data")
    raise MemoryError()

cdef int payload_v2(object token, Buf* out) except -1:
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
        raise InvalidTokenError(f"token signature is {n} bytes, expected 32")
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


def parse_v2(token):
    cdef unsigned char stack[STACK_BUF]
    cdef Buf b
    cdef Reader r
    cdef uint32_t count, i, stype
    cdef int16_t role
    buf_init(&b, stack, STACK_BUF)
    try:
        payload_v2(token, &b)
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
                return sig, app_id, issue_ts, expire, salt, services  # unknown: stop
            privs = rd_privileges(&r)
            if stype == 1 or stype == 3 or stype == 6:
                a = rd_text(&r)
                services.append((stype, privs, a, rd_text(&r)))
            elif stype == 2 or stype == 5:
                services.append((stype, privs, rd_text(&r)))
            elif stype == 4:
                services.append((stype, privs))
            elif stype == 7:
                a = rd_text(&r)
                c = rd_text(&r)
                role = <int16_t>rd_u16(&r)
                services.append((stype, privs, a, c, role))
            else:
                a = rd_text(&r)
                services.append((stype, privs, a, rd_permissions(&r)))
        if r.pos != r.n:
            raise InvalidTokenError(f"token payload has {r.n - r.pos} unexpected trailing bytes")
        return sig, app_id, issue_ts, expire, salt, services
    finally:
        buf_free(&b)


def verify_v2(token, str app_certificate):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char expected[32]
    cdef Buf b
    cdef Reader r
    cdef Py_ssize_t certlen, start, n
    cdef const char* cert = utf8(app_certificate, &certlen)
    cdef uint32_t ts, salt
    buf_init(&b, stack, STACK_BUF)
    try:
        payload_v2(token, &b)
        reader_init(&r, b.data, b.len)
        if rd_strlen(&r) != 32:
            raise InvalidTokenError(f"token signature is {r.p[0] | (r.p[1] << 8)} bytes, expected 32")
        r.pos += 32
        start = r.pos
        n = rd_strlen(&r)  # app_id
        r.pos += n
        ts = rd_u32(&r)
        rd_u32(&r)  # expire
        salt = rd_u32(&r)
        sign_v2(cert, certlen, ts, salt, b.data + start, b.len - start, expected)
        return same32(b.data + 2, expected)
    finally:
        buf_free(&b)

# --------------------------------------------------------------- legacy 006

cdef uint32_t crc32_of(const char* p, Py_ssize_t n) except? 0xFFFFFFFF:
    if AT_HAVE_ZLIB:
        return <uint32_t>at_crc32(<const unsigned char*>p, n)
    return _zlib.crc32(PyBytes_FromStringAndSize(p, n))

cdef int sign_v1(const char* cert, Py_ssize_t certlen, str app_id, const char* ch, Py_ssize_t chlen,
                 const char* uid, Py_ssize_t uidlen, const unsigned char* msg, Py_ssize_t msglen,
                 unsigned char* sig) except -1:
    cdef unsigned char stack[STACK_BUF]
    cdef Buf m
    cdef Py_ssize_t alen
    cdef const char* a = utf8(app_id, &alen)
    buf_init(&m, stack, STACK_BUF)
    try:
        put_raw(&m, a, alen)
        put_raw(&m, ch, chlen)
        put_raw(&m, uid, uidlen)
        put_raw(&m, <const char*>msg, msglen)
        hmac256(<const unsigned char*>cert, certlen, m.data, m.len, sig)
    finally:
        buf_free(&m)
    return 0


def build_v1(str app_id, str app_certificate, str channel_name, str uid, salt, ts, privileges):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char mstack[STACK_BUF]
    cdef Buf b, m
    cdef Py_ssize_t certlen, chlen, uidlen, alen
    cdef const char* cert = utf8(app_certificate, &certlen)
    cdef const char* ch = utf8(channel_name, &chlen)
    cdef const char* u = utf8(uid, &uidlen)
    utf8(app_id, &alen)
    cdef bytes prefix = b"006" + app_id.encode("ascii")
    buf_init(&b, stack, STACK_BUF)
    buf_init(&m, mstack, STACK_BUF)
    try:
        put_u32(&m, as_uint(salt, 0xFFFFFFFF))
        put_u32(&m, as_uint(ts, 0xFFFFFFFF))
        put_privileges(&m, privileges)
        if m.len > 0xFFFF:
            raise InvalidParameterError("too many privileges")
        b.len = 34
        put_u32(&b, crc32_of(ch, chlen))
        put_u32(&b, crc32_of(u, uidlen))
        put_u16(&b, <uint32_t>m.len)
        put_raw(&b, <const char*>m.data, m.len)
        b.data[0] = 32
        b.data[1] = 0
        sign_v1(cert, certlen, app_id, ch, chlen, u, uidlen, m.data, m.len, b.data + 2)
        check_token_length(3 + alen, b.len)
        return b64_token(prefix, 3 + alen, b.data, b.len)
    finally:
        buf_free(&b)
        buf_free(&m)


cdef tuple parse_v1_raw(object token, Buf* b):
    """-> (app_id, sig, crc_channel, crc_uid, msg_start, msg_len, salt, ts, privileges)."""
    cdef Reader r, mr
    cdef Py_ssize_t n, mlen, mstart
    check_token(token, "006")
    if len(<str>token) < 35:
        raise InvalidTokenError("006 token is shorter than its 35-character header")
    app_id = (<str>token)[3:35]
    if not app_id.isascii():
        raise InvalidTokenError("006 token has a non-ASCII app id")
    cdef const unsigned char* body = ascii_body(<str>token, 35, &n)
    if n // 4 * 3 > b.cap:
        buf_grow(b, n // 4 * 3)
    b.len = b64_decode(body, n, b.data)
    reader_init(&r, b.data, b.len)
    sig = rd_signature(&r)
    crc_channel = rd_u32(&r)
    crc_uid = rd_u32(&r)
    mlen = rd_strlen(&r)
    mstart = r.pos
    if mstart + mlen != r.n:
        raise InvalidTokenError("006 token has unexpected trailing bytes")
    reader_init(&mr, b.data + mstart, mlen)
    salt = rd_u32(&mr)
    ts = rd_u32(&mr)
    privs = rd_privileges(&mr)
    if mr.pos != mr.n:
        raise InvalidTokenError("006 token message has unexpected trailing bytes")
    return app_id, sig, crc_channel, crc_uid, mstart, mlen, salt, ts, privs


def parse_v1(token):
    cdef unsigned char stack[STACK_BUF]
    cdef Buf b
    buf_init(&b, stack, STACK_BUF)
    try:
        t = parse_v1_raw(token, &b)
        return t[0], t[1], t[2], t[3], t[6], t[7], t[8]
    finally:
        buf_free(&b)


def verify_v1(token, str app_certificate, str channel_name, str uid):
    cdef unsigned char stack[STACK_BUF]
    cdef unsigned char expected[32]
    cdef Buf b
    cdef Py_ssize_t certlen, chlen, uidlen
    cdef const char* cert = utf8(app_certificate, &certlen)
    cdef const char* ch = utf8(channel_name, &chlen)
    cdef const char* u = utf8(uid, &uidlen)
    buf_init(&b, stack, STACK_BUF)
    try:
        t = parse_v1_raw(token, &b)
        sign_v1(cert, certlen, t[0], ch, chlen, u, uidlen, b.data + <Py_ssize_t>t[4],
                <Py_ssize_t>t[5], expected)
        crc_ok = t[2] == crc32_of(ch, chlen) and t[3] == crc32_of(u, uidlen)
        return same32(b.data + 2, expected) and crc_ok
    finally:
        buf_free(&b)
