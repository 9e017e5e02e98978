/*
 * at_core.h - the C primitives under agora_token._pack.
 *
 * Two optional system libraries, chosen at build time by setup.py:
 *   AT_HAVE_OPENSSL  SHA-256 from OpenSSL's libcrypto (the library under
 *                    Python's own hashlib/hmac; SHA-NI/ARMv8 accelerated);
 *                    without it, the portable SHA-256 below (the wheels:
 *                    docs/packaging.md). HMAC (RFC 2104) is composed here
 *                    from init/update/final either way.
 *   AT_HAVE_ZLIB     deflate/inflate from libz (on the manylinux allow-list).
 *                    Streams are reused with deflateReset/inflateReset, which
 *                    yields exactly the bytes of a fresh deflateInit2 but skips
 *                    allocating and clearing ~268 KiB of state per token.
 * Without libz (e.g. Windows), AT_HAVE_ZLIB is 0 and _pack.pyx calls
 * Python's zlib instead; the zlib stubs below are then never called.
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
typedef SHA256_CTX at_sha256_ctx;
#define at_sha256_init(c) SHA256_Init(c)
#define at_sha256_update(c, p, n) SHA256_Update((c), (p), (n))
#define at_sha256_final(out, c) SHA256_Final((out), (c))
#else
/* Without libcrypto: SHA-256 (FIPS 180-4) written for this project, in
 * portable C (no CPU extensions). Checked against the NIST examples and, as
 * HMAC, RFC 4231 (tests/lib/test_sha256.py), and against hashlib on random
 * inputs. docs/packaging.md: what it costs per token against libcrypto. */
typedef struct {
    uint32_t h[8];
    uint64_t total;          /* bytes hashed so far */
    unsigned char buf[64];
    size_t used;             /* bytes waiting in buf */
} at_sha256_ctx;

static const uint32_t AT_K256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

#define AT_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* One round; the eight working variables rotate by renaming (eight rounds per
 * loop step below) instead of by moving them all every round. */
#define AT_S0(x) (AT_ROTR(x, 2) ^ AT_ROTR(x, 13) ^ AT_ROTR(x, 22))
#define AT_S1(x) (AT_ROTR(x, 6) ^ AT_ROTR(x, 11) ^ AT_ROTR(x, 25))
#define AT_ROUND(a, b, c, d, e, f, g, h, i) do {                                     \
        uint32_t t1_ = (h) + AT_S1(e) + (((e) & (f)) ^ (~(e) & (g))) + AT_K256[i] + w[i]; \
        uint32_t t2_ = AT_S0(a) + (((a) & (b)) ^ ((a) & (c)) ^ ((b) & (c)));         \
        (d) += t1_;                                                                  \
        (h) = t1_ + t2_;                                                             \
    } while (0)

static void at_sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16)
             | ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = AT_ROTR(w[i - 15], 7) ^ AT_ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = AT_ROTR(w[i - 2], 17) ^ AT_ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (i = 0; i < 64; i += 8) {
        AT_ROUND(a, b, c, d, e, f, g, hh, i);
        AT_ROUND(hh, a, b, c, d, e, f, g, i + 1);
        AT_ROUND(g, hh, a, b, c, d, e, f, i + 2);
        AT_ROUND(f, g, hh, a, b, c, d, e, i + 3);
        AT_ROUND(e, f, g, hh, a, b, c, d, i + 4);
        AT_ROUND(d, e, f, g, hh, a, b, c, i + 5);
        AT_ROUND(c, d, e, f, g, hh, a, b, i + 6);
        AT_ROUND(b, c, d, e, f, g, hh, a, i + 7);
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

/* The same compression function with the x86 SHA extensions (SHA-NI: Intel
 * since Goldmont/Ice Lake, AMD since Zen), written for this project from the
 * instructions' definitions in Intel's SDM. The state lives in two registers
 * as SHA256RNDS2 wants it, (F,E,B,A) and (H,G,D,C) from the lowest lane up;
 * each SHA256RNDS2 runs two rounds and swaps their roles. The message
 * schedule: W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four words at
 * a time, SHA256MSG1 giving W[t-16] + s0(W[t-15]), PALIGNR the W[t-7] words,
 * SHA256MSG2 the s1 terms. Used only when CPUID says the CPU has it
 * (at_sha256_detect) and AGORA_TOKEN_SHA_NI is not 0; tests/lib/test_sha256.py
 * checks both paths against the same vectors and against hashlib. */
/* gcc 5+ or clang (the target attribute and the SHA intrinsics); the CPUID
 * calls below are the ones older cpuid.h headers have too. */
#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5)) \
    && !defined(AT_NO_SHA_NI)
#define AT_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("sha,sse4.1,ssse3")))
static void at_sha256_block_shani(uint32_t h[8], const unsigned char *p)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abcd = _mm_loadu_si128((const __m128i *)(const void *)h);
    __m128i efgh = _mm_loadu_si128((const __m128i *)(const void *)(h + 4));
    __m128i w[16], s0, s1, s0_in, s1_in, m;
    int i;
    abcd = _mm_shuffle_epi32(abcd, 0xB1);           /* (b, a, d, c) */
    efgh = _mm_shuffle_epi32(efgh, 0x1B);           /* (h, g, f, e) */
    s0 = _mm_alignr_epi8(abcd, efgh, 8);            /* (f, e, b, a) */
    s1 = _mm_blend_epi16(efgh, abcd, 0xF0);         /* (h, g, d, c) */
    s0_in = s0;
    s1_in = s1;
    for (i = 0; i < 4; i++)
        w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)), bswap);
    for (i = 4; i < 16; i++)
        w[i] = _mm_sha256msg2_epu32(
            _mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]), _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
            w[i - 1]);
    for (i = 0; i < 16; i++) {
        m = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)(const void *)(AT_K256 + 4 * i)));
        s1 = _mm_sha256rnds2_epu32(s1, s0, m);      /* rounds 4i, 4i+1 */
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));  /* 4i+2, 4i+3 */
    }
    s0 = _mm_add_epi32(s0, s0_in);
    s1 = _mm_add_epi32(s1, s1_in);
    abcd = _mm_shuffle_epi32(s0, 0x1B);             /* (a, b, e, f) */
    efgh = _mm_shuffle_epi32(s1, 0xB1);             /* (g, h, c, d) */
    _mm_storeu_si128((__m128i *)(void *)h, _mm_blend_epi16(abcd, efgh, 0xF0));          /* (a, b, c, d) */
    _mm_storeu_si128((__m128i *)(void *)(h + 4), _mm_alignr_epi8(efgh, abcd, 8));       /* (e, f, g, h) */
}
#else
#define AT_SHA_NI 0
#endif

/* 1 when the SHA-NI path is in use, else 0; decided once, at import. */
static int at_sha256_shani = 0;

static int at_sha256_detect(void)
{
#if AT_SHA_NI
    unsigned int a, b, c, d;
    const char *env = getenv("AGORA_TOKEN_SHA_NI");
    int sha = 0, sse41 = 0, ssse3 = 0;
    unsigned int max = __get_cpuid_max(0, NULL);
    if (max >= 1) {
        __cpuid(1, a, b, c, d);
        sse41 = (c >> 19) & 1;
        ssse3 = (c >> 9) & 1;
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        sha = (b >> 29) & 1;
    }
    at_sha256_shani = sha && sse41 && ssse3 && !(env != NULL && strcmp(env, "0") == 0);
#endif
    return at_sha256_shani;
}

static void at_sha256_compress(uint32_t h[8], const unsigned char *p)
{
#if AT_SHA_NI
    if (at_sha256_shani) { at_sha256_block_shani(h, p); return; }
#endif
    at_sha256_block(h, p);
}

static int at_sha256_init(at_sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(c->h, iv, sizeof iv);
    c->total = 0;
    c->used = 0;
    return 1;
}

static int at_sha256_update(at_sha256_ctx *c, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    c->total += n;
    if (c->used) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->buf + c->used, p, take);
        c->used += take; p += take; n -= take;
        if (c->used < 64) return 1;
        at_sha256_compress(c->h, c->buf);
        c->used = 0;
    }
    for (; n >= 64; p += 64, n -= 64) at_sha256_compress(c->h, p);
    memcpy(c->buf, p, n);
    c->used = n;
    return 1;
}

static int at_sha256_final(unsigned char out[32], at_sha256_ctx *c)
{
    uint64_t bits = c->total * 8;
    int i;
    c->buf[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->buf + c->used, 0, 64 - c->used);
        at_sha256_compress(c->h, c->buf);
        c->used = 0;
    }
    memset(c->buf + c->used, 0, 56 - c->used);
    for (i = 0; i < 8; i++) c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    at_sha256_compress(c->h, c->buf);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
    return 1;
}
#endif
#if AT_HAVE_OPENSSL
static int at_sha256_detect(void) { return 0; }  /* libcrypto picks its own code path */
#endif

/* HMAC-SHA256 (RFC 2104), composed from init/update/final: OpenSSL 3's
 * one-shot HMAC() looks up the digest by name on every call, which costs more
 * than the hashing itself for messages this short. */
static void at_hmac_sha256(const unsigned char *key, size_t keylen,
                           const unsigned char *msg, size_t msglen,
                           unsigned char out[32])
{
    unsigned char k[64], pad[64], inner[32];
    at_sha256_ctx ctx;
    size_t i;
    memset(k, 0, sizeof k);
    if (keylen > 64) {
        at_sha256_init(&ctx);
        at_sha256_update(&ctx, key, keylen);
        at_sha256_final(k, &ctx);
    } else if (keylen) {
        memcpy(k, key, keylen);
    }
    for (i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    at_sha256_init(&ctx);
    at_sha256_update(&ctx, pad, 64);
    at_sha256_update(&ctx, msg, msglen);
    at_sha256_final(inner, &ctx);
    for (i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    at_sha256_init(&ctx);
    at_sha256_update(&ctx, pad, 64);
    at_sha256_update(&ctx, inner, 32);
    at_sha256_final(out, &ctx);
    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
    memset(inner, 0, sizeof inner);
    memset(&ctx, 0, sizeof ctx);
}

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
