"""Endpoints beyond the original service: ``POST /verifyToken``,
``GET /encryption`` and ``GET /healthz``.

``/verifyToken`` and ``/encryption`` sit behind the same authentication and
rate limit as the token endpoints (see :mod:`server.guard`); ``/healthz`` is
always open and never rate limited.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Optional

from aiohttp import web

import agora_token
from agora_token.errors import AgoraTokenError, InvalidTokenError
from agora_token.legacy import AccessToken006

__all__ = ["EXTRA_ROUTES", "Credentials", "CREDENTIALS_KEY", "setup_extra_routes"]

MAX_VERIFY_TOKEN_LENGTH = 16384


class Credentials:
    """This server's app id and certificate (the certificate is never logged or shown)."""

    __slots__ = ("app_id", "_certificate")

    def __init__(self, app_id: str, app_certificate: str) -> None:
        self.app_id = app_id
        self._certificate = app_certificate

    @property
    def certificate(self) -> str:
        return self._certificate

    def __repr__(self) -> str:
        return f"Credentials(app_id={self.app_id!r}, app_certificate=<hidden>)"


CREDENTIALS_KEY: web.AppKey[Credentials] = web.AppKey("agora_token_extra_credentials", Credentials)

# readable privilege names, per service type (unknown ids are shown as their number)
_PRIVILEGES: dict[int, dict[int, str]] = {
    1: {1: "joinChannel", 2: "publishAudioStream", 3: "publishVideoStream", 4: "publishDataStream"},
    2: {1: "login"},
    3: {1: "publishMixStream", 2: "publishRawStream"},
    4: {1: "login"},
    5: {1: "user", 2: "app"},
    6: {1: "publish", 2: "play"},
    7: {1: "roomUser", 2: "user", 3: "app"},
    8: {1: "login"},
}
_SERVICE_NAMES = {1: "rtc", 2: "rtm", 3: "streaming", 4: "fpa", 5: "chat", 6: "fcdn", 7: "apaas", 8: "rtm2"}
_PRIVILEGES_006 = {1: "joinChannel", 2: "publishAudioStream", 3: "publishVideoStream",
                   4: "publishDataStream", 1000: "rtmLogin"}


def iso(ts: Optional[int]) -> Optional[str]:
    """Unix seconds -> ISO-8601 UTC (``2025-01-01T12:00:00Z``)."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# --------------------------------------------------------------------------- /verifyToken

def _describe_007(token: agora_token.AccessToken) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for svc in token.services:
        stype = int(svc.type)
        entry: dict[str, Any] = {"type": _SERVICE_NAMES.get(stype, str(stype))}
        if stype == 1:
            entry["channel"] = svc.channel_name
            entry["uid"] = svc.uid if svc.uid != "" else "0"
        elif stype in (2, 5, 8):
            entry["userId"] = svc.user_id
        elif stype in (3, 6):
            entry["channel"] = svc.channel_name
            entry["account"] = svc.account
        elif stype == 7:
            entry["roomUuid"] = svc.room_uuid
            entry["userUuid"] = svc.user_uuid
            entry["role"] = svc.role
        names = _PRIVILEGES.get(stype, {})
        privileges: dict[str, Any] = {}
        for pid, expire in sorted(svc.privileges.items()):
            # 0 = no limit of its own (the token's expiry applies)
            privileges[names.get(pid, str(pid))] = {
                "expire": expire, "expiresAt": iso(token.issue_ts + expire) if expire else None}
        entry["privileges"] = privileges
        out.append(entry)
    return out


def _verify_007(creds: Credentials, token_text: str, now: int) -> dict[str, Any]:
    token = agora_token.AccessToken.parse(token_text)
    expires_at = token.issue_ts + token.expire
    if token.app_id != creds.app_id:
        valid, reason = False, "the token was issued for another app id, not this server's"
    elif not agora_token.verify(token_text, creds.certificate):
        valid, reason = False, "the signature does not match this server's app certificate"
    else:
        valid, reason = True, None
    return {
        "valid": valid, "reason": reason, "version": "007", "appId": token.app_id,
        "issuedAt": iso(token.issue_ts), "expiresAt": iso(expires_at),
        "expired": now >= expires_at, "services": _describe_007(token),
    }


def _verify_006(creds: Credentials, token_text: str, body: dict[str, Any], now: int) -> dict[str, Any]:
    token = AccessToken006.parse(token_text)
    channel = body.get("channel")
    uid = body.get("uid")
    if isinstance(uid, bool) or not (uid is None or isinstance(uid, (str, int))):
        raise ValueError("'uid' must be a string or an integer")
    if channel is not None and not isinstance(channel, str):
        raise ValueError("'channel' must be a string")
    uid_text: Optional[str] = None
    if uid is not None:
        uid_text = str(uid) if isinstance(uid, int) else uid
        if uid_text == "0":
            uid_text = ""
    # the token signs the channel and uid but carries only their CRC-32.
    # The legacy RTM builder signs (channel = user account, uid = ""): for an
    # RTM-only token, {"uid": "<user>"} alone is enough.
    rtm_only = set(token.privileges) == {1000}
    sign_channel, sign_uid = channel, uid_text
    if rtm_only and channel is None and uid_text is not None:
        sign_channel, sign_uid = uid_text, ""
    privileges = {}
    for pid, ts in sorted(token.privileges.items()):
        privileges[_PRIVILEGES_006.get(pid, str(pid))] = {"expire": ts, "expiresAt": iso(ts) if ts else None}
    limits = [ts for ts in token.privileges.values() if ts]
    expires_at = min(limits) if limits else None
    rtc_privs = {k: v for k, v in privileges.items() if k != "rtmLogin"}
    services: list[dict[str, Any]] = []
    shown_uid = None if uid_text is None else (uid_text or "0")
    if rtc_privs:
        services.append({"type": "rtc", "channel": channel, "uid": shown_uid, "privileges": rtc_privs})
    if "rtmLogin" in privileges:
        rtm_user = uid_text if rtm_only and channel is None else shown_uid
        services.append({"type": "rtm", "userId": rtm_user, "privileges": {"login": privileges["rtmLogin"]}})
    for svc in services:  # drop unknown fields rather than sending nulls
        for key in ("channel", "uid", "userId"):
            if key in svc and svc[key] is None:
                del svc[key]
    if token.app_id != creds.app_id:
        valid, reason = False, "the token was issued for another app id, not this server's"
    elif sign_channel is None or sign_uid is None:
        valid, reason = False, ("006 tokens sign the channel name and uid but carry only their CRC-32: "
                                "send \"channel\" and \"uid\" with the token to verify it (for an RTM "
                                "token, \"uid\": the user account)")
    elif not agora_token.verify(token_text, creds.certificate, channel_name=sign_channel, uid=sign_uid):
        valid, reason = False, ("the signature does not match this server's app certificate for this "
                                "channel and uid")
    else:
        valid, reason = True, None
    return {
        "valid": valid, "reason": reason, "version": "006", "appId": token.app_id,
        "issuedAt": None, "expiresAt": iso(expires_at),
        "expired": expires_at is not None and now >= expires_at, "services": services,
    }


async def verify_token(request: web.Request) -> web.Response:
    """``POST /verifyToken`` ``{"token": "...", ["channel", "uid" for 006]}``."""
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..."
        return _error(400, "request body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "request body must be a JSON object: {\"token\": \"...\"}")
    token_text = body.get("token")
    if not isinstance(token_text, str) or not token_text:
        return _error(400, "missing 'token' (a 007 or 006 token string)")
    if len(token_text) > MAX_VERIFY_TOKEN_LENGTH:
        return _error(400, f"malformed token: longer than {MAX_VERIFY_TOKEN_LENGTH} characters")
    creds = request.app[CREDENTIALS_KEY]
    now = int(time.time())
    try:
        if token_text.startswith("006"):
            result = _verify_006(creds, token_text, body, now)
        elif token_text.startswith("007"):
            result = _verify_007(creds, token_text, now)
        else:
            return _error(400, "malformed token: it does not start with '007' or '006'")
    except InvalidTokenError as exc:
        return _error(400, f"malformed token: {exc}")
    except (AgoraTokenError, ValueError, binascii.Error) as exc:
        return _error(400, f"cannot verify this token: {exc}")
    return web.json_response(result)


# --------------------------------------------------------------------------- /encryption, /healthz

async def encryption(request: web.Request) -> web.Response:
    """``GET /encryption``: fresh key material for Agora's built-in channel
    encryption (AES-128/256-GCM2): ``secret`` = 32 random bytes as hex,
    ``salt`` = 32 random bytes as base64. Never logged."""
    return web.json_response({
        "secret": secrets.token_hex(32),
        "salt": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    })


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: always 200 while the process serves requests."""
    return web.json_response({"status": "ok"})


#: path -> (method, handler)
EXTRA_ROUTES = {
    "/verifyToken": ("POST", verify_token),
    "/encryption": ("GET", encryption),
    "/healthz": ("GET", healthz),
}


def setup_extra_routes(app: web.Application, app_id: str, app_certificate: str) -> None:
    """Register the extra routes (call before the app is frozen)."""
    app[CREDENTIALS_KEY] = Credentials(app_id, app_certificate)
    for path, (method, handler) in EXTRA_ROUTES.items():
        app.router.add_route(method, path, handler, name=handler.__name__.replace("_", "-"))
