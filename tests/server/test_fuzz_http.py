"""Hypothesis against the real service (a subprocess on a loopback port):
arbitrary request bodies and path parameters never give a 5xx, and every
answer other than a redirect is a JSON object. Successful answers carry
tokens that verify with the server's certificate."""

from __future__ import annotations

import http.client
import json
import os
from typing import Any, Iterator, Optional
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agora_token import verify
from agora_token_server.testing import LiveServer
from tests.support.service import APP_CERTIFICATE, CREDENTIALS

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12")) * 8
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


class Client:
    """A keep-alive HTTP/1.1 client that reconnects when the server closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: Optional[http.client.HTTPConnection] = None
        self.count = 0

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                self.count += 1
                return resp.status, hdrs, data
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with LiveServer(tmp_path_factory.mktemp("fuzz-http"), CREDENTIALS) as server:
        c = Client(server.port)
        yield c
        print(f"\nhypothesis HTTP fuzz: {c.count} requests")
        assert server.proc.poll() is None, server.log()


def check(status: int, headers: dict[str, str], body: bytes) -> Any:
    assert status < 500, body[:300]
    if status in (301, 307, 308):
        assert headers.get("location")
        return None
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
    doc = json.loads(body)
    assert isinstance(doc, dict)
    if status >= 400:
        assert isinstance(doc.get("error", doc.get("message")), str), doc
    return doc


def check_tokens(doc: Any) -> None:
    for key in ("token", "rtcToken", "rtmToken", "chatToken"):
        if isinstance(doc, dict) and key in doc:
            assert verify(doc[key], APP_CERTIFICATE)


# ------------------------------------------------------------------ bodies

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=80))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
fieldish = st.one_of(scalars, st.sampled_from(["", "0", "007", "4294967295", "4294967296", "-1", "*", "alice",
                                               "publisher", "subscriber", "x" * 65, "é" * 40]))
get_token_bodies = st.fixed_dictionaries(
    {"tokenType": st.one_of(st.sampled_from(["rtc", "rtm", "chat", "RTC", ""]), scalars)},
    optional={"channel": fieldish, "uid": fieldish, "role": fieldish,
              "expire": st.one_of(st.integers(min_value=-10, max_value=2**33), fieldish)},
)


@FUZZ
@given(body=st.one_of(get_token_bodies, json_values))
def test_get_token_json_bodies(client: Client, body: Any) -> None:
    raw = json.dumps(body).encode()
    doc = check(*client.request("POST", "/getToken", raw, {"Content-Type": "application/json"}))
    check_tokens(doc)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_get_token_raw_bodies(client: Client, raw: bytes) -> None:
    ctype = "application/json" if len(raw) % 2 else "text/plain"
    doc = check(*client.request("POST", "/getToken", raw, {"Content-Type": ctype}))
    check_tokens(doc)


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"token": st.one_of(
    st.text(max_size=200), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
                                   max_size=200).map(lambda s: "007" + s),
    st.text(max_size=100).map(lambda s: "006" + "a" * 32 + s), scalars)}), json_values))
def test_verify_token_bodies(client: Client, body: Any) -> None:
    status, headers, data = client.request("POST", "/verifyToken", json.dumps(body).encode(),
                                           {"Content-Type": "application/json"})
    if status == 404:
        pytest.skip("POST /verifyToken is not wired in this build")
    check(status, headers, data)


# ------------------------------------------------------------- path params

segment = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["0", "007", "4294967295", "4294967296", "uid", "userAccount", "publisher", "*", "..", ".",
                     "%", "a/b", "a?b", "#", " ", "\x00"]),
)
token_type = st.one_of(st.sampled_from(["uid", "userAccount"]), segment)


def enc(s: str) -> str:
    return quote(s.encode("utf-8", "surrogatepass"), safe="")


expiry = st.one_of(st.none(), st.integers(min_value=-5, max_value=2**33).map(str), st.text(max_size=12))


def with_query(path: str, e: Optional[str]) -> str:
    return path if e is None else f"{path}?expiry={enc(e)}"


@FUZZ
@given(channel=segment, role=segment, ttype=token_type, uid=segment, e=expiry)
def test_rtc_and_rte_paths(client: Client, channel: str, role: str, ttype: str, uid: str, e: Optional[str]) -> None:
    for prefix in ("rtc", "rte"):
        path = with_query(f"/{prefix}/{enc(channel)}/{enc(role)}/{enc(ttype)}/{enc(uid)}/", e)
        doc = check(*client.request("GET", path))
        check_tokens(doc)


@FUZZ
@given(channel=segment, uid=segment, rtm=segment, e=expiry)
def test_rte_with_rtm_user(client: Client, channel: str, uid: str, rtm: str, e: Optional[str]) -> None:
    path = with_query(f"/rte/{enc(channel)}/publisher/userAccount/{enc(uid)}/{enc(rtm)}/", e)
    check_tokens(check(*client.request("GET", path)))


@FUZZ
@given(user=segment, e=expiry, slash=st.booleans())
def test_rtm_and_chat_paths(client: Client, user: str, e: Optional[str], slash: bool) -> None:
    tail = "/" if slash else ""
    for path in (f"/rtm/{enc(user)}{tail}", f"/chat/account/{enc(user)}{tail}", f"/chat/app{tail}"):
        check_tokens(check(*client.request("GET", with_query(path, e))))
