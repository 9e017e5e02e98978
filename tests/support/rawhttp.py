"""HTTP/1.1 over a plain socket, for the tests that need to control every
byte and every pause (split heads and bodies, ``Expect: 100-continue``,
kept-alive connections): one request's bytes, one response read in full."""

from __future__ import annotations

import json
import socket
from typing import Optional

__all__ = ["TOKEN_BODY", "post_head", "read_response"]

#: a small valid token request (POST /getToken)
TOKEN_BODY = json.dumps({"tokenType": "chat", "uid": "u", "expire": 60}).encode()


def post_head(path: str = "/getToken", length: int = len(TOKEN_BODY), extra: bytes = b"") -> bytes:
    """The head of a JSON POST announcing ``length`` body bytes."""
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (path.encode(), length, extra))


def read_response(sock: socket.socket, limit: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """The next response on ``sock`` (status, lower-cased headers, body),
    within ``limit`` seconds; raises ``ConnectionError`` when the server
    closes the connection before a complete response."""
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} bytes of a response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length: Optional[int] = int(headers["content-length"]) if "content-length" in headers else None
    while length is not None and len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a response body")
        body += chunk
    return status, headers, body
