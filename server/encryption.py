"""``GET /encryption``: fresh key material for Agora's built-in channel
encryption (AES-128/256-GCM2): ``secret`` = 32 random bytes as hex, ``salt``
= 32 random bytes as base64. Never logged."""

from __future__ import annotations

import base64
import secrets

from aiohttp import web

from .responses import json_response

__all__ = ["encryption"]


async def encryption(request: web.Request) -> web.Response:
    return json_response({
        "secret": secrets.token_hex(32),
        "salt": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    })
