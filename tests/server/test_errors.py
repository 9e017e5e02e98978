"""server/errors.py: the service's refusals are one tree under ServiceError,
importable where they were, answered by one function in every route family's
body shape (server.responses.error_response)."""

from __future__ import annotations

import json

import pytest

from agora_token_server import auth, errors, jwtbase, ratelimit, responses
from agora_token_server.env import ConfigError
from agora_token_server.errors import AuthError, IssueDenied, JwtError, ServiceError, StorageUnavailable
from agora_token_server.responses import error_response


def test_one_tree_importable_where_it_was() -> None:
    assert auth.AuthError is AuthError and jwtbase.JwtError is JwtError
    assert responses.IssueDenied is IssueDenied and ratelimit.StorageUnavailable is StorageUnavailable
    for cls in (AuthError, JwtError, IssueDenied, StorageUnavailable):
        assert issubclass(cls, ServiceError)
    assert issubclass(JwtError, AuthError)  # a refused JWT is a failed authentication
    assert not issubclass(ConfigError, ServiceError)  # a start-up error, never an answer
    assert set(errors.__all__) == {"AuthError", "IssueDenied", "JwtError", "ServiceError", "StorageUnavailable"}


def test_the_constructors_callers_use() -> None:
    err = AuthError("authentication required", invalid_token=False)
    assert (err.status, err.reason, err.headers) == (401, "missing_credentials", {"WWW-Authenticate": "Bearer"})
    err = AuthError("invalid API key")
    assert (err.status, err.reason) == (401, "invalid_api_key")
    assert err.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'} and str(err) == "invalid API key"
    jwt = JwtError("JWT has expired", "expired_jwt")
    assert (jwt.status, jwt.message, jwt.reason) == (401, "JWT has expired", "expired_jwt")
    assert jwt.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    down = JwtError("no keys", "jwks_unavailable")
    assert (down.status, down.headers) == (503, {"Retry-After": "5"})
    denied = IssueDenied(403, "not yours", reason="forbidden_uid")
    assert (denied.status, denied.message, denied.headers, denied.reason) == (403, "not yours", {}, "forbidden_uid")
    assert IssueDenied(400, "too long").reason == "policy"
    storage = StorageUnavailable()
    assert (storage.status, storage.headers) == (503, {"Retry-After": "1"}) and "deny" in storage.message


@pytest.mark.parametrize("shape, status, body", [
    ("error", 403, {"error": "no"}),
    ("code", 403, {"code": -1, "message": "no", "data": ""}),
    ("status", 403, {"status": 403, "error": "no"}),  # the deprecated routes: "error" unless 400
    ("status", 400, {"status": 400, "message": "no"}),
])
def test_one_rendering_per_route_family(shape: str, status: int, body: dict[str, object]) -> None:
    resp = error_response(shape, IssueDenied(status, "no", {"WWW-Authenticate": "Bearer"}))
    assert resp.status == status and resp.headers["WWW-Authenticate"] == "Bearer"
    assert resp.body is not None and json.loads(bytes(resp.body)) == body  # type: ignore[arg-type]
