/*
 * at_core.h - the C primitives under agora_token._pack.
 *
 * Two optional system libraries, chosen at build time by setup.py:
 *   AT_HAVE_OPENSSL  SHA-256 from OpenSSL's libcrypto (the library under
 *                    Python's own hashlib/hmac; SHA-NI/ARMv8 accelerated).
 *                    HMAC (RFC 2104) is composed here from SHA256_Init/
 *                    Update/Final: OpenSSL 3's one-shot HMAC() looks up the
 *                    digest by name on every call, which costs more than
 *                    the hashing itself for messages this short.
 *   AT_HAVE_ZLIB     deflate/inflate from libz (on the manylinux allow-list).
 *                    Streams are reused with deflateReset/inflateReset, which
 *                    yields exactly the bytes of a fresh deflateInit2 but skips
 *                    allocating and clearing ~268 KiB of state per token.
 * When a library is missing (e.g. Windows without headers), the matching
 * AT_HAVE_* is 0 and _pack.pyx calls Python's hmac / zlib instead; the stubs
 * below are then never called.
 */
#ifndef AT_CORE_H
#define AT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#ifndef AT_HAVE_OPENSSL
#define AT_HAVE_OPENSSL 0
#endif
#ifndef AT_HAVE_ZLIB
#define AT_HAVE_ZLIB 0
#endif

/* ---------------------------------------------------------------- SHA-256 */
#if AT_HAVE_OPENSSL
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

static void at_hmac_sha256(const unsigned char *key, size_t keylen,
                           const unsigned char *msg, size_t msglen,
                           unsigned char out[32])
{
    unsigned char k[64], pad[64], inner[32];
    SHA256_CTX ctx;
    size_t i;
    memset(k, 0, sizeof k);
    if (keylen > 64) {
        SHA256(key, keylen, k);
    } else if (keylen) {
        memcpy(k, key, keylen);
    }
    for (i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, 64);
    SHA256_Update(&ctx, msg, msglen);
    SHA256_Final(inner, &ctx);
    for (i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, 64);
    SHA256_Update(&ctx, inner, 32);
    SHA256_Final(out, &ctx);
    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
    memset(inner, 0, sizeof inner);
}
#else
static void at_hmac_sha256(const unsigned char *key, size_t keylen,
                           const unsigned char *msg, size_t msglen,
                           unsigned char out[32])
{
    (void)key; (void)keylen; (void)msg; (void)msglen;
    memset(out, 0, 32);
}
#endif

/* ------------------------------------------------------------------- zlib */
#if AT_HAVE_ZLIB
#include <zlib.h>

/* One cached stream of each kind. _pack.pyx takes and returns them while
 * holding the GIL and never calls back into Python in between, so no two
 * threads can use the same stream; a second concurrent user (which cannot
 * happen under the GIL, but costs nothing to handle) gets a fresh stream. */
static z_stream *at_deflate_cache = NULL;
static z_stream *at_inflate_cache = NULL;

/* Compress src into dst (capacity *dstlen) exactly like zlib.compress(src)
 * (level 6, 32 KiB window, memLevel 8, zlib wrapper). Returns 0 on success
 * with *dstlen set, -1 on failure (out of memory or dst too small). */
static int at_deflate(const unsigned char *src, size_t srclen,
                      unsigned char *dst, size_t *dstlen)
{
    z_stream *s = at_deflate_cache;
    int rc;
    at_deflate_cache = NULL;
    if (s == NULL) {
        s = (z_stream *)calloc(1, sizeof(z_stream));
        if (s == NULL) return -1;
        if (deflateInit2(s, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(s);
            return -1;
        }
    } else if (deflateReset(s) != Z_OK) {
        deflateEnd(s); free(s);
        return -1;
    }
    s->next_in = (Bytef *)src;
    s->avail_in = (uInt)srclen;
    s->next_out = dst;
    s->avail_out = (uInt)*dstlen;
    rc = deflate(s, Z_FINISH);
    *dstlen = *dstlen - s->avail_out;
    if (at_deflate_cache == NULL) { at_deflate_cache = s; }
    else { deflateEnd(s); free(s); }
    return rc == Z_STREAM_END ? 0 : -1;
}

/* Inflate a whole zlib stream. Returns 0 on success (*dstlen = bytes out),
 * 1 if the output would exceed *dstlen (the caller's cap), 2 if the stream
 * is truncated, 3 if bytes follow the end of the stream, 4 if the data is
 * not valid zlib, -1 if out of memory. */
static int at_inflate(const unsigned char *src, size_t srclen,
                      unsigned char *dst, size_t *dstlen)
{
    z_stream *s = at_inflate_cache;
    int rc, result;
    at_inflate_cache = NULL;
    if (s == NULL) {
        s = (z_stream *)calloc(1, sizeof(z_stream));
        if (s == NULL) return -1;
        if (inflateInit(s) != Z_OK) { free(s); return -1; }
    } else if (inflateReset(s) != Z_OK) {
        inflateEnd(s); free(s);
        return -1;
    }
    s->next_in = (Bytef *)src;
    s->avail_in = (uInt)srclen;
    s->next_out = dst;
    s->avail_out = (uInt)*dstlen;
    rc = inflate(s, Z_FINISH);
    if (rc == Z_STREAM_END) {
        result = s->avail_in ? 3 : 0;
    } else if ((rc == Z_BUF_ERROR || rc == Z_OK) && s->avail_out == 0) {
        result = 1;
    } else if (rc == Z_BUF_ERROR || rc == Z_OK) {
        result = 2;
    } else if (rc == Z_MEM_ERROR) {
        result = -1;
    } else {
        result = 4;
    }
    *dstlen = *dstlen - s->avail_out;
    if (at_inflate_cache == NULL) { at_inflate_cache = s; }
    else { inflateEnd(s); free(s); }
    return result;
}
static unsigned long at_crc32(const unsigned char *buf, size_t len)
{
    return crc32(0L, buf, (uInt)len);
}
#else
static unsigned long at_crc32(const unsigned char *buf, size_t len)
{ (void)buf; (void)len; return 0; }
static int at_deflate(const unsigned char *src, size_t srclen,
                      unsigned char *dst, size_t *dstlen)
{ (void)src; (void)srclen; (void)dst; (void)dstlen; return -1; }
static int at_inflate(const unsigned char *src, size_t srclen,
                      unsigned char *dst, size_t *dstlen)
{ (void)src; (void)srclen; (void)dst; (void)dstlen; return -1; }
#endif

#endif /* AT_CORE_H */
