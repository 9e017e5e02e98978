"""Bad input fails early, with our exceptions only (public API on both cores;
the cores compared directly at the end)."""

from __future__ import annotations

import base64
import zlib
from typing import Any, Callable

import pytest

import agora_token as at
from agora_token import (
    AgoraTokenError,
    InvalidCredentialsError,
    InvalidParameterError,
    InvalidTokenError,
    RtcTokenBuilder,
    RtmTokenBuilder,
)
from tests.support.cores import cores, outcome
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID

pytestmark = pytest.mark.usefixtures("core")
GOOD = at.rtc_token(APP_ID, CERT, "ch", 42)


def test_hierarchy() -> None:
    for cls in (InvalidCredentialsError, InvalidParameterError, InvalidTokenError):
        assert issubclass(cls, AgoraTokenError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("app_id,cert", [
    ("", CERT), (APP_ID, ""), (APP_ID[:-1], CERT), (APP_ID, CERT + "0"),
    ("g" * 32, CERT), (APP_ID, "z" * 32), (None, CERT), (APP_ID, b"5CFd2fd1755d40ecb72977518be15d3b"),
    (" " + APP_ID[1:], CERT), (APP_ID, "５" + CERT[1:]),
])
def test_bad_credentials_raise(app_id: Any, cert: Any) -> None:
    with pytest.raises(InvalidCredentialsError):
        RtcTokenBuilder.build_token_with_uid(app_id, cert, "ch", 1, 1, 60)
    with pytest.raises(InvalidCredentialsError):
        at.AccessToken(app_id, cert)


def test_certificate_never_in_message() -> None:
    bad_cert = "SECRET" + CERT[6:] + "X"
    with pytest.raises(InvalidCredentialsError) as ei:
        at.AccessToken(APP_ID, bad_cert)
    assert "SECRET" not in str(ei.value)


@pytest.mark.parametrize("call", [
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 2**32, 1, 60),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", -1, 1, 60),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 1, 1, -1),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 1, 1, 2**32),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 1, 1, 60, 2**32),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "x" * 65, 1, 1, 60),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", 1.5, 1, 60),
    lambda: RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "ch", True, 1, 60),
    lambda: RtcTokenBuilder.build_token_with_user_account(APP_ID, CERT, "ch", "a" * 256, 1, 60),
    lambda: RtcTokenBuilder.build_token_with_user_account(APP_ID, CERT, "ch", "\ud800", 1, 60),
    lambda: RtmTokenBuilder.build_token(APP_ID, CERT, "", 60),
    lambda: RtmTokenBuilder.build_token(APP_ID, CERT, "u", "60"),
    lambda: RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "u", {0: {0: "abc"}}, 60),
    lambda: RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "u", {70000: {0: []}}, 60),
    lambda: RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "u", 60, 60),
    lambda: RtmTokenBuilder.build_token_with_permissions(APP_ID, CERT, "u", object(), 60),
    lambda: at.ServiceRtm2.Permissions().add(0, 0, "abc"),
    lambda: at.ServiceRtm2.Permissions().add(0, 70000, []),
    lambda: at.ServiceRtm2.Permissions().add(0, 0, 5),
    lambda: at.rtc_token(APP_ID, CERT, "ch", 1, role="admin"),
    lambda: at.ServiceRtc("c", 2**32),
    lambda: at.ServiceRtc("x" * 70000),
    lambda: at.ServiceApaas(role=40000),
    lambda: at.ServiceRtc().add_privilege(70000, 1),
    lambda: at.ServiceRtc().add_privilege(1, -5),
    lambda: at.AccessToken(APP_ID, CERT, expire=-1),
    lambda: at.AccessToken(APP_ID, CERT, salt=2**32),
    lambda: at.AccessToken(APP_ID, CERT, issue_ts=2**40),
    lambda: at.AccessToken(APP_ID, CERT).build(),  # no service
    lambda: at.AccessToken(APP_ID, CERT).add_service("rtc"),  # type: ignore[arg-type]
])
def test_bad_parameters_raise(call: Callable[[], Any]) -> None:
    with pytest.raises(InvalidParameterError):
        call()


def test_oversized_token_refused() -> None:
    token = at.AccessToken(APP_ID, CERT)
    for _ in range(3):
        token.add_service(at.ServiceRtm("x" * 30000))
    with pytest.raises(InvalidParameterError, match="larger|bytes"):
        token.build()


def _z(payload: bytes) -> str:
    return "007" + base64.b64encode(zlib.compress(payload)).decode()


def _payload() -> bytes:
    return zlib.decompress(base64.b64decode(GOOD[3:]))


MALFORMED = [
    "", "007", "006", "008abc", "hello", GOOD[3:], "007" + "A" * 5, "007====", "007A===",
    "007AB=C", GOOD + "=", GOOD[:-4], GOOD + "AAAA", GOOD.replace("007", "007 ", 1),
    "007" + base64.b64encode(b"not zlib").decode(),
    _z(b""), _z(b"\x20\x00"), _payload()[:10].hex(), _z(_payload()[:-1]), _z(_payload() + b"\x00"),
    _z(b"\x05\x00abcde" + _payload()[34:]),  # 5-byte signature
    "007" + base64.b64encode(zlib.compress(_payload())[:-3]).decode(),  # truncated zlib
    "007" + base64.b64encode(zlib.compress(_payload()) + b"junk").decode(),  # bytes after stream
    _z(b"\x00" * 200000),  # decompresses past the cap
    "007" + "A" * 70000,  # longer than any token
    "007ü" + GOOD[4:], "007\ud800" + GOOD[4:],
    "006" + APP_ID, "006" + APP_ID + "AAAA", "006" + APP_ID[:-1] + "é" + "AAAA", "006abc",
]


@pytest.mark.parametrize("token", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        at.parse(token)
    # verify() reads only what the signature needs: damage past the header
    # shows up as a signature mismatch rather than a parse error.
    try:
        assert at.verify(token, CERT, channel_name="c", uid=1) is False
    except InvalidTokenError:
        pass


@pytest.mark.parametrize("obj", [None, b"007abc", 7, ["007"]])
def test_non_string_tokens(obj: Any) -> None:
    with pytest.raises(InvalidTokenError):
        at.parse(obj)
    with pytest.raises(InvalidTokenError):
        at.verify(obj, CERT)


def test_non_utf8_string_in_payload() -> None:
    p = bytearray(_payload())
    # app_id string starts at 34: u16 len then 32 ASCII bytes; make one invalid UTF-8
    p[36] = 0xFF
    with pytest.raises(InvalidTokenError, match="UTF-8"):
        at.parse(_z(bytes(p)))


def test_unknown_service_type_stops_reading() -> None:
    tok = at.AccessToken(APP_ID, CERT, issue_ts=1, salt=1)
    tok.add_service(at.ServiceRtm("u"))
    p = bytearray(zlib.decompress(base64.b64decode(tok.build()[3:])))
    count_at = 34 + 2 + 32 + 12
    p[count_at] = 2  # claim two services
    p += b"\x63\x00garbage"  # type 99 then bytes nobody can read
    parsed = at.parse(_z(bytes(p)))
    assert [s.type for s in parsed.services] == [2]


def test_verify_bad_certificate_raises() -> None:
    with pytest.raises(InvalidCredentialsError):
        at.verify(GOOD, "nope")


# --- values that only reach the core by mutating public attributes after the checks

def _outcomes(*args: Any) -> set[tuple[str, Any]]:
    """build_007's outcome on each core: one element when they agree."""
    return {outcome(c.build_007, *args) for c in cores().values()}


@pytest.mark.parametrize("mutate", [
    lambda t, s: setattr(t, "expire", 3600.9),
    lambda t, s: s.privileges.__setitem__(1, 99.99),
    lambda t, s: s.privileges.__setitem__("x", 1),
    lambda t, s: s.privileges.__setitem__(None, 1),
    lambda t, s: setattr(s, "uid", 5),
    lambda t, s: setattr(s, "channel_name", b"bytes"),
    lambda t, s: setattr(s, "privileges", [1, 2]),
    lambda t, s: setattr(t, "salt", -1),
])
def test_mutated_fields_raise_invalid_parameter(mutate: Callable[[Any, Any], None]) -> None:
    tok = at.AccessToken(APP_ID, CERT, issue_ts=1, salt=1)
    svc = at.ServiceRtc("ch", 1)
    svc.add_privilege(1, 60)
    tok.add_service(svc)
    mutate(tok, svc)
    with pytest.raises(InvalidParameterError):
        tok.build()


@pytest.mark.parametrize("role", [1.7, "1", None, 40000])
def test_backends_reject_bad_roles_alike(role: Any) -> None:
    from decimal import Decimal
    for r in (role, Decimal(3)):
        outcomes = _outcomes(APP_ID, CERT, 1, 60, 1, [(7, {1: 60}, "room", "user", r)])
        assert len(outcomes) == 1 and next(iter(outcomes))[0] == "InvalidParameterError", outcomes


def test_str_subclass_fields_are_packed_alike() -> None:
    class Name(str):
        pass

    outcomes = _outcomes(APP_ID, CERT, 1, 60, 1, [(1, {1: 60}, Name("ch"), Name("alice"))])
    assert len(outcomes) == 1 and next(iter(outcomes))[0] == "ok"


@pytest.mark.parametrize("grow", [True, False])
def test_privilege_key_that_mutates_its_dict_is_memory_safe(grow: bool) -> None:
    """A key whose __index__ changes the privilege dict mid-build: no crash,
    no stray memory in the token, the same result on both backends."""
    def build(core: Any) -> tuple[str, str]:
        privs: dict[Any, int] = {}

        class Evil:
            def __hash__(self) -> int:
                return 12345

            def __index__(self) -> int:
                if grow:
                    for k in range(100, 3000):
                        privs[k] = 0x41414141
                else:
                    for k in [k for k in privs if k is not self]:
                        del privs[k]
                return 7

        privs[Evil()] = 1
        if not grow:
            for k in range(1, 16):
                privs[k] = 0
        return outcome(core.build_007, APP_ID, CERT, 1, 60, 1, [(1, privs, "c", "1")])

    outcomes = [build(c) for c in cores().values()]
    assert all(o == outcomes[0] for o in outcomes)
    if outcomes[0][0] == "ok":
        privileges = at.parse(outcomes[0][1]).services[0].privileges
        assert set(privileges) <= set(range(16)) and set(privileges.values()) <= {0, 1}


def test_never_builds_a_token_parse_would_refuse() -> None:
    import random
    rng = random.Random(7)
    noise = "".join(chr(rng.randrange(33, 127)) for _ in range(60000))  # incompressible
    tok = at.AccessToken(APP_ID, CERT)
    tok.add_service(at.ServiceRtm(noise))
    with pytest.raises(InvalidParameterError, match="characters"):
        tok.build()
    from agora_token.legacy import AccessToken006
    old = AccessToken006(APP_ID, CERT, "c", 1)
    for p in range(11000):
        old.add_privilege(p, 1)
    with pytest.raises(InvalidParameterError):
        old.build()


def test_credentials_cache_checks_types_first() -> None:
    class Cfg(str):
        pass

    at.rtc_token(APP_ID, CERT, "c", 1)  # the plain pair is now cached
    with pytest.raises(InvalidCredentialsError):
        at.rtc_token(Cfg(APP_ID), CERT, "c", 1)


@pytest.mark.parametrize("uid", [1.5, b"42", None, [42]])
def test_a_uid_of_the_wrong_type_names_every_accepted_type(uid: Any) -> None:
    with pytest.raises(InvalidParameterError) as err:
        at.rtc_token(APP_ID, CERT, "ch", uid)
    assert str(err.value) == f"uid must be an int in 0..4294967295 or a str (a user account), got {type(uid).__name__}"
