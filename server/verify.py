"""``POST /verifyToken``: what a token grants (the library's describer,
rendered as JSON) and whether this server's certificate signed it.
``{"token": "..."}``; a 006 token also needs the ``channel`` and ``uid`` it
was built for (it carries only their CRC-32)."""

from __future__ import annotations

import json
import time
from typing import Any, Optional

from aiohttp import web

from agora_token import AgoraTokenError, InvalidTokenError, describe_token

from .pipeline import read_body
from .responses import json_error, json_response
from .state import STATE

__all__ = ["verify_token"]

MAX_VERIFY_TOKEN_LENGTH = 16384

_OTHER_APP = "the token was issued for another app id, not this server's"
_BAD_SIGNATURE_007 = "the signature does not match this server's app certificate"
_BAD_SIGNATURE_006 = "the signature does not match this server's app certificate for this channel and uid"
_NEEDS_CHANNEL_UID = ("006 tokens sign the channel name and uid but carry only their CRC-32: send \"channel\" "
                      "and \"uid\" with the token to verify it (for an RTM token, \"uid\": the user account)")


def _channel_uid(body: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    channel, uid = body.get("channel"), body.get("uid")
    if isinstance(uid, bool) or not (uid is None or isinstance(uid, (str, int))):
        raise ValueError("'uid' must be a string or an integer")
    if channel is not None and not isinstance(channel, str):
        raise ValueError("'channel' must be a string")
    return channel, (str(uid) if isinstance(uid, int) else uid)


async def verify_token(request: web.Request) -> web.Response:
    raw = await read_body(request)
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..."
        return json_error(400, "request body is not valid JSON")
    if not isinstance(body, dict):
        return json_error(400, "request body must be a JSON object: {\"token\": \"...\"}")
    token = body.get("token")
    if not isinstance(token, str) or not token:
        return json_error(400, "missing 'token' (a 007 or 006 token string)")
    if len(token) > MAX_VERIFY_TOKEN_LENGTH:
        return json_error(400, f"malformed token: longer than {MAX_VERIFY_TOKEN_LENGTH} characters")
    if not token.startswith(("007", "006")):
        return json_error(400, "malformed token: it does not start with '007' or '006'")
    settings = request.app[STATE].settings
    try:
        channel, uid = _channel_uid(body) if token.startswith("006") else (None, None)
        description = describe_token(token, channel=channel, uid=uid)
        reason: Optional[str] = None
        if description.app_id != settings.app_id:
            reason = _OTHER_APP
        else:
            signed = description.verify(settings.app_certificate)
            if signed is None:
                reason = _NEEDS_CHANNEL_UID
            elif not signed:
                reason = _BAD_SIGNATURE_006 if description.version == "006" else _BAD_SIGNATURE_007
    except InvalidTokenError as exc:
        return json_error(400, f"malformed token: {exc}")
    except (AgoraTokenError, ValueError) as exc:
        return json_error(400, f"cannot verify this token: {exc}")
    return json_response({"valid": reason is None, "reason": reason, **description.to_json(time.time())})
