"""Every example of the OpenAPI document (what ``/docs`` shows) is true.

Each example in ``server/openapi_examples.py`` keeps the request that
produces it (:class:`agora_token_server.openapi_examples.Call`). Here every one is replayed
against the real app, with the settings it names, and the answer must be the
documented one: the status, and the exact body (for an example marked
illustrative, such as a token: the keys, the schema, and tokens that verify).
The document may hold no example that is not replayed: every ``example`` /
``examples`` in it is matched against the registry. The parameter examples
(what "Try it out" pre-fills) must get a ``200``, and the shell lines of the
description must work when pasted.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from agora_token import AccessToken, ServiceRtc, verify
from agora_token.constants import U32_MAX
from agora_token_server import openapi, openapi_examples
from agora_token_server.openapi_examples import EXAMPLES, PARAMETER_EXAMPLES, Call, Example
from agora_token_server.policy import DEFAULT_MAX_EXPIRE, PRODUCTION_VARIABLES
from agora_token_server.state import STATE
from agora_token_server.testing import free_port, holding_token_requests
from tests.support.credentials import OTHER_CERTIFICATE
from tests.support.openapi import SPEC, resolve
from tests.support.service import APP_CERTIFICATE, APP_ID, make_app

jsonschema = pytest.importorskip("jsonschema")

API_KEY = "docs-example-key-0123456789abcdef"
JWT_SECRET = "docs-example-jwt-secret-0123456789abcdef"
METRICS_TOKEN = "docs-example-metrics-token-0123"
ALL = [(place, name, ex) for place, examples in EXAMPLES.items() for name, ex in examples.items()]


def _ops() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            yield path, method, op


OPS = {op["operationId"]: (path, method, op) for path, method, op in _ops()}


def response_for(place: tuple[str, str], status: int) -> dict[str, Any]:
    """The documented response object an example belongs to."""
    if place[0] == "components":
        return dict(SPEC["components"]["responses"][place[1]])
    op = OPS[place[0]][2]
    return dict(resolve(op["responses"][str(status)]))


# --------------------------------------------------------------------------- placeholders

def _jwt(spec: str) -> str:
    import jwt

    claims: dict[str, Any] = {"exp": int(time.time()) + 600}
    headers: dict[str, Any] = {}
    key_for: Any = JWT_SECRET
    algorithm = "HS256"
    for item in spec.split():
        key, _, value = item.partition("=")
        if key == "expired":
            claims["exp"] = int(time.time()) - 3600
        elif key == "kid":
            headers["kid"] = value
        elif key == "channels":
            claims["channels"] = value.split(",")
        elif key == "alg":  # RS256: signed with a throwaway RSA key (an identity provider's kind of JWT)
            from cryptography.hazmat.primitives.asymmetric import rsa

            algorithm = value
            key_for = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            claims[key] = value
    return jwt.encode(claims, key_for, algorithm=algorithm, headers=headers or None)


class Placeholders:
    def __init__(self, tmp: Path) -> None:
        self.values = {"<api-key>": API_KEY, "<jwt-secret>": JWT_SECRET, "<metrics-token>": METRICS_TOKEN,
                       "<closed-port>": str(free_port())}

    def __call__(self, text: str) -> str:
        text = re.sub(r"<jwt ([^>]*)>", lambda m: _jwt(m.group(1)), text)
        for key, value in self.values.items():
            text = text.replace(key, value)
        assert "<" not in text or "<METRICS_TOKEN>" in text or "<credential>" in text, text
        return text


# --------------------------------------------------------------------------- replaying

async def send(client: Any, call: Call, fill: Placeholders) -> tuple[int, Any, bytes]:
    if call.stalled_body:  # announce a body, never send it
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(f"{call.method} {call.path} HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        headers = dict(line.split(": ", 1) for line in head.decode().strip().split("\r\n")[1:])
        body = await reader.readexactly(int(headers["Content-Length"]))
        writer.close()
        return int(head.split()[1]), headers, body
    kwargs: dict[str, Any] = {"headers": {k: fill(v) for k, v in call.headers.items()}, "allow_redirects": False}
    if call.raw is not None:
        kwargs["data"] = fill(call.raw).encode()
        kwargs["headers"]["Content-Type"] = "application/json"
    elif call.body is not None:
        kwargs["data"] = json.dumps(call.body).encode()
        kwargs["headers"]["Content-Type"] = "application/json"
    resp = await client.request(call.method, fill(call.path), **kwargs)
    return resp.status, resp.headers, await resp.read()


async def replay(aiohttp_client: Any, call: Call, tmp: Path) -> tuple[int, Any, bytes]:
    fill = Placeholders(tmp)
    hold = tmp / "hold"
    with holding_token_requests(hold) if call.while_busy else nullcontext():
        app = make_app(**{k: fill(v) for k, v in call.env.items()})
    client = await aiohttp_client(app)
    for first in call.before:
        await send(client, first, fill)
    if not call.while_busy:
        return await send(client, call, fill)
    hold.touch()
    held = asyncio.ensure_future(send(client, Call(call.method, call.path, call.body, headers=call.headers), fill))
    try:
        for _ in range(500):
            if app[STATE].inflight >= 1:
                break
            await asyncio.sleep(0.01)
        assert app[STATE].inflight >= 1, "the held request never got in"
        return await send(client, call, fill)
    finally:
        hold.unlink()
        status, _, body = await held
        assert status == 200, body


def check_tokens(value: dict[str, Any]) -> None:
    """Every token in a successful answer verifies with the service's certificate."""
    for key, token in value.items():
        if key in ("token", "rtcToken", "rtmToken", "chatToken"):
            assert verify(token, APP_CERTIFICATE), key


@pytest.mark.parametrize("place, name, ex", ALL, ids=[f"{p[0]}-{p[1]}-{n}" for p, n, _ in ALL])
async def test_example_is_what_the_server_answers(aiohttp_client: Any, tmp_path: Path, place: tuple[str, str],
                                                  name: str, ex: Example) -> None:
    status, headers, body = await replay(aiohttp_client, ex.call, tmp_path)
    assert status == ex.status, f"{ex.call.describe()}\nanswered {status}: {body[:500]!r}"
    if place[1] == "request":  # a request-body example: the call sends it, and it succeeds
        assert ex.call.body == ex.value
        documented = response_for((place[0], "200"), status)
    else:
        documented = response_for(place, status)
    media = headers.get("Content-Type", "").split(";")[0]
    assert media in documented["content"], (media, list(documented["content"]))
    for header in documented.get("headers", {}):
        assert header in headers, f"documented header {header} missing"
    if media != "application/json":
        text = body.decode()
        for line in ex.value.splitlines():  # the metrics sample: HELP / TYPE verbatim, the sample's series
            assert (line in text.splitlines() if line.startswith("#")
                    else re.search("^" + re.escape(line.rsplit(" ", 1)[0]) + r" \d", text, re.M)), line
        return
    answer = json.loads(body)
    if ex.exact and place[1] != "request":
        assert answer == ex.value, f"{ex.call.describe()}\ndocumented {ex.value}\nanswered   {answer}"
        return
    if place[1] != "request":
        assert set(answer) == set(ex.value), (answer, ex.value)
    schema = {"components": SPEC["components"], **documented["content"][media]["schema"]}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(answer))
    assert not errors, errors[0].message
    check_tokens(answer)


# --------------------------------------------------------------------------- the document holds only these

Keys = tuple[Any, ...]


def _examples_in(node: Any, where: Keys = ()) -> Iterator[tuple[Keys, str, Any]]:
    """Every ``example`` / ``examples`` key below ``node``: (keys leading to it, key, value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("example", "examples"):
                yield where, key, value
            else:
                yield from _examples_in(value, (*where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _examples_in(value, (*where, i))


def _place_of(where: Keys) -> Optional[tuple[str, str]]:
    """Where an ``examples`` map may be: a media type of a response or request body."""
    if len(where) == 5 and where[:2] == ("components", "responses") and where[3] == "content":
        return ("components", where[2])
    if len(where) == 6 and where[0] == "paths" and where[3:5] == ("requestBody", "content"):
        return (SPEC["paths"][where[1]][where[2]]["operationId"], "request")
    if len(where) == 7 and where[0] == "paths" and where[3] == "responses" and where[5] == "content":
        return (SPEC["paths"][where[1]][where[2]]["operationId"], where[4])
    return None


def test_every_example_in_the_document_is_replayed() -> None:
    found: set[tuple[str, str]] = set()
    parameters = 0
    for where, key, value in _examples_in(SPEC):
        if len(where) == 5 and where[0] == "paths" and where[3] == "parameters":
            # pre-filled by "Try it out": test_parameter_examples_succeed
            p = SPEC["paths"][where[1]][where[2]]["parameters"][where[4]]
            expected = openapi.EXPIRY_QUERY["example"] if p["in"] == "query" else PARAMETER_EXAMPLES[p["name"]]
            assert key == "example" and value == expected, where
            parameters += 1
            continue
        place = _place_of(where)
        assert key == "examples" and place is not None and place in EXAMPLES, \
            f"{where}: an example that no test replays"
        assert value == {name: ex.render() for name, ex in EXAMPLES[place].items()}, where
        found.add(place)
    assert found == set(EXAMPLES), f"registered but not in the document: {set(EXAMPLES) - found}"
    assert parameters >= 10
    assert len(ALL) >= 50


async def test_parameter_examples_succeed(aiohttp_client: Any) -> None:
    """Every operation with parameters, called with their examples (what "Try it out" pre-fills)."""
    client = await aiohttp_client(make_app())
    called = 0
    for path, method, op in _ops():
        params = op.get("parameters", [])
        if not params:
            continue
        url = path
        query = []
        for p in params:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(p["example"]))
            else:
                query.append(f"{p['name']}={p['example']}")
        url += ("?" + "&".join(query)) if query else ""
        resp = await client.request(method.upper(), url)
        body = await resp.read()
        assert resp.status == 200, (url, body[:300])
        if resp.content_type == "application/json":
            check_tokens(json.loads(body))
        called += 1
    assert called == 7


def test_verify_examples_are_the_documented_tokens() -> None:
    """The fixed tokens of the /verifyToken examples are what their description says."""
    for token, cert in ((openapi_examples.VERIFY_SIGNED, APP_CERTIFICATE),
                        (openapi_examples.VERIFY_OTHER, OTHER_CERTIFICATE)):
        built = AccessToken(APP_ID, cert, expire=3600, issue_ts=1735732800, salt=1)
        service = ServiceRtc("test", 123)
        for privilege in (1, 2, 3, 4):
            service.add_privilege(privilege, 3600)
        assert built.add_service(service).build() == token
    assert openapi_examples.SAMPLE_APP_ID == APP_ID


# --------------------------------------------------------------------------- the description's claims

async def test_no_lifetime_cap_in_drop_in_mode(aiohttp_client: Any) -> None:
    """The description: MAX_EXPIRE defaults to 86400 only once a production setting is configured
    (the maxExpire examples show that side); in drop-in mode there is no cap."""
    client = await aiohttp_client(make_app())
    body = {"tokenType": "rtc", "channel": "test", "uid": "123", "expire": U32_MAX}
    resp = await client.post("/getToken", json=body)
    assert resp.status == 200, await resp.text()
    policy = re.search(r"\*\*Policy\.\*\*(.*?)\n\n", openapi.DESCRIPTION, re.S)
    assert policy and "no cap" in policy.group(1) and "86400" in policy.group(1)
    for name in PRODUCTION_VARIABLES:  # exactly the settings that switch the default cap on
        assert f"`{name}`" in policy.group(1), name
    capped = await aiohttp_client(make_app(RATE_LIMIT="100/s"))
    resp = await capped.post("/getToken", json={**body, "expire": DEFAULT_MAX_EXPIRE + 1})
    assert resp.status == 400 and "(MAX_EXPIRE)" in (await resp.json())["error"]


def shell_lines() -> list[str]:
    block = re.search(r"```\n(.*?)```", openapi.DESCRIPTION, re.S)
    assert block, "no shell block in the description"
    commands = [c.strip() for c in block.group(1).split("\n\n") if c.strip()]
    for command in commands:
        assert "'$" not in command and "$API_KEY'" not in command  # variables in double quotes
        assert all(len(line) <= 100 for line in command.splitlines()), command
    return commands


async def test_description_shell_lines_work(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(AUTH_API_KEYS=API_KEY, METRICS_TOKEN=METRICS_TOKEN))
    base = str(client.make_url("")).rstrip("/")
    commands = shell_lines()
    assert len(commands) == 3
    outputs = []
    for command in commands:
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", command.replace("http://localhost:8080", base),
            env={"PATH": "/usr/bin:/bin", "API_KEY": API_KEY, "METRICS_TOKEN": METRICS_TOKEN},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err
        outputs.append(out.decode())
    assert verify(json.loads(outputs[0])["token"], APP_CERTIFICATE)
    assert verify(json.loads(outputs[1])["rtcToken"], APP_CERTIFICATE)
    assert "# TYPE agora_token_tokens_issued_total counter" in outputs[2]
