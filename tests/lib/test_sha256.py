"""The compiled core's SHA-256 and HMAC-SHA256 (libcrypto's, or the portable one
in ``_c/at_core.h`` when the build did not link libcrypto, as in the wheels):
the NIST examples, RFC 4231, and a differential against hashlib. Also the
signature's cached first step and the pure-Python core's allocator primer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Optional

import pytest

from tests.support.cores import load_core
from tests.support.credentials import APP_CERTIFICATE, APP_ID, OTHER_CERTIFICATE


@pytest.fixture(scope="module")
def pack() -> ModuleType:
    module = load_core("cython")
    if module is None:
        if os.environ.get("AGORA_TOKEN_EXPECT_BACKEND") == "cython":
            pytest.fail("AGORA_TOKEN_EXPECT_BACKEND=cython but agora_token._pack is not importable")
        pytest.skip("the compiled core (agora_token._pack) is not built")
    return module


# FIPS 180-4 examples (NIST CSRC "Example Values" for SHA-256)
NIST = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]

# RFC 4231, test cases 1-7 (case 5 compares the first 128 bits, as the RFC does)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


@pytest.mark.parametrize(("data", "digest"), NIST, ids=lambda x: str(len(x)) if isinstance(x, bytes) else None)
def test_sha256_nist_examples(pack: ModuleType, data: bytes, digest: str) -> None:
    assert pack._sha256(data).hex() == digest


@pytest.mark.parametrize(("key", "msg", "mac"), RFC4231, ids=[f"case{i}" for i in range(1, 8)])
def test_hmac_sha256_rfc4231(pack: ModuleType, key: bytes, msg: bytes, mac: str) -> None:
    assert pack._hmac_sha256(key, msg).hex().startswith(mac)


def check_nist_and_rfc4231(sha256: Optional[Callable[[bytes], bytes]],
                           hmac_sha256: Callable[[bytes, bytes], bytes]) -> None:
    """The NIST examples (``sha256`` None: not checked) and RFC 4231."""
    if sha256 is not None:
        for data, digest in NIST:
            assert sha256(data).hex() == digest, len(data)
    for key, msg, mac in RFC4231:
        assert hmac_sha256(key, msg).hex().startswith(mac), (len(key), len(msg))


def check_against_hashlib(sha256: Optional[Callable[[bytes], bytes]],
                          hmac_sha256: Callable[[bytes, bytes], bytes], seed: int) -> None:
    """Every length around the 55/56/64-byte block edges and random ones,
    keys of every size class, against hashlib and hmac (``sha256`` None: the
    HMAC only)."""
    rng = random.Random(seed)
    for n in list(range(0, 300)) + [rng.randrange(300, 5000) for _ in range(100)]:
        data = rng.randbytes(n)
        if sha256 is not None:
            assert sha256(data) == hashlib.sha256(data).digest(), n
        key = rng.randbytes(rng.choice((0, 1, 4, 32, 63, 64, 65, 131)))
        assert hmac_sha256(key, data) == hmac.digest(key, data, "sha256"), (len(key), n)


def test_sha256_and_hmac_agree_with_hashlib(pack: ModuleType) -> None:
    check_against_hashlib(pack._sha256, pack._hmac_sha256, 20)


def test_pure_core_hmac_matches_rfc4231_and_hmac() -> None:
    """The pure-Python core composes HMAC-SHA256 from hashlib.sha256 (faster
    than hmac.digest for short messages): RFC 4231 and a differential."""
    from agora_token import _pack_py

    check_nist_and_rfc4231(None, _pack_py._hmac_sha256)
    check_against_hashlib(None, _pack_py._hmac_sha256, 22)


def _sha_ni_cpu() -> bool:
    if not (sys.platform.startswith("linux") and os.uname().machine == "x86_64"):
        return False
    with open("/proc/cpuinfo") as f:
        return any(line.startswith("flags") and " sha_ni" in line for line in f)


def test_sha256_says_which_path_it_takes(pack: ModuleType) -> None:
    """The built-in SHA-256 runs on the CPU's SHA extensions exactly when the
    CPU has them (and AGORA_TOKEN_SHA_NI is not 0); libcrypto picks its own."""
    if pack.FEATURES["sha256"] == "libcrypto":
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("what the CPU has is read from /proc/cpuinfo")
    expected = _sha_ni_cpu() and os.environ.get("AGORA_TOKEN_SHA_NI") != "0"
    assert pack.FEATURES["sha256"] == ("builtin+sha-ni" if expected else "builtin")


def test_both_builtin_paths_pass_the_same_checks(pack: ModuleType) -> None:
    """The other path than this process's (the portable C with
    ``AGORA_TOKEN_SHA_NI=0``, or SHA-NI without it): the NIST examples,
    RFC 4231 and the differential against hashlib, in a subprocess."""
    if pack.FEATURES["sha256"] == "libcrypto":
        pytest.skip("this build uses libcrypto's SHA-256")
    other = "0" if pack.FEATURES["sha256"] == "builtin+sha-ni" else "1"
    if other == "1" and not _sha_ni_cpu():
        pytest.skip("this CPU has no SHA extensions: the portable path is the only one")
    code = textwrap.dedent("""
        from agora_token import _pack
        from tests.lib.test_sha256 import check_against_hashlib, check_nist_and_rfc4231
        print(_pack.FEATURES["sha256"])
        check_nist_and_rfc4231(_pack._sha256, _pack._hmac_sha256)
        check_against_hashlib(_pack._sha256, _pack._hmac_sha256, 21)
    """)
    env = {**os.environ, "AGORA_TOKEN_SHA_NI": other}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ("builtin" if other == "0" else "builtin+sha-ni")


def test_test_hooks_take_bytes_only(pack: ModuleType) -> None:
    with pytest.raises(TypeError):
        pack._sha256("abc")
    with pytest.raises(TypeError):
        pack._hmac_sha256(b"k", bytearray(b"m"))


def _expected_signature(cert: str, issue_ts: int, salt: int, info: bytes) -> bytes:
    k1 = hmac.digest(issue_ts.to_bytes(4, "little"), cert.encode(), "sha256")
    k2 = hmac.digest(salt.to_bytes(4, "little"), k1, "sha256")
    return hmac.digest(k2, info, "sha256")


def test_cached_first_step_follows_the_certificate_and_the_second(core: ModuleType) -> None:
    """HMAC(issue_ts, certificate) is kept between tokens: a token for another
    certificate or another second in between must not reuse it."""
    svc = [(1, {1: 3600}, "ch", "42")]
    steps = [(APP_CERTIFICATE, 1_700_000_000), (OTHER_CERTIFICATE, 1_700_000_000),
             (APP_CERTIFICATE, 1_700_000_000), (APP_CERTIFICATE, 1_700_000_001),
             ("c" * 100, 1_700_000_001), (APP_CERTIFICATE, 1_700_000_001)]
    for salt, (cert, ts) in enumerate(steps, 1):
        token = core.build_007(APP_ID, cert, ts, 600, salt, svc)
        payload = zlib.decompress(base64.b64decode(token[3:]))
        assert payload[2:34] == _expected_signature(cert, ts, salt, payload[34:]), (cert[:4], ts)
        assert core.verify_007(token, cert)
        assert not core.verify_007(token, OTHER_CERTIFICATE if cert != OTHER_CERTIFICATE else APP_CERTIFICATE)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc trim behaviour")
def test_pure_core_compression_reuses_the_heap() -> None:
    """The pure-Python core primes glibc's malloc before its first
    zlib.compress, so the ~270 KB of deflate state is not handed back to the
    kernel and faulted in again on every token (about 19 page faults per call
    in a fresh process without it)."""
    code = textwrap.dedent("""
        import resource, zlib
        from agora_token import _pack_py
        svc = [(1, {1: 3600, 2: 3600, 3: 3600, 4: 3600}, "test channel 01", "3025904354")]
        build = lambda: _pack_py.build_007("970CA35de60c44645bbae8a215061b33",
                                           "5CFd2fd1755d40ecb72977518be15d3b", 1700000000, 3600, 7, svc)
        build()
        assert _pack_py._compress is zlib.compress
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(2000):
            build()
        print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 2000)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1, out.stdout
