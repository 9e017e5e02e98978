"""One small function per token kind: the only place the service signs tokens.

Each function first runs the issuing hooks registered in
``app[ISSUE_HOOKS]`` (authorisation, policy...) with
``(request, kind, channel, uid, role, expire)``:

=========  ===============  ==========================  =============================
kind       channel          uid                         role
=========  ===============  ==========================  =============================
rtc        channel name     int (0 = any user) or str   "publisher" / "subscriber"
                            user account
rtm        "" or channel    RTM user id (str)           None
           (stream channel)
chat       ""               chat user id (str)          None
chat_app   ""               None                        None
=========  ===============  ==========================  =============================

``/rte/`` issues two tokens and so runs the hooks twice (``rtc`` then ``rtm``).
A hook may be a plain function or a coroutine function; it refuses the token by
raising :class:`server.responses.IssueDenied` (rendered in the route's error
style) or any ``web.HTTPException``. After a successful build the hooks in
``app[ISSUED_HOOKS]`` are called with ``(request, kind)``.

Library errors (:class:`agora_token.InvalidParameterError`, e.g. a channel
name over 64 bytes) propagate to the handler, which answers 400.
"""

from __future__ import annotations

import inspect
from typing import Optional, Union

from aiohttp import web

from agora_token import ChatTokenBuilder, RtcTokenBuilder, RtmTokenBuilder

from .keys import ISSUE_HOOKS, ISSUED_HOOKS, SETTINGS

__all__ = ["issue_rtc", "issue_rtm", "issue_chat_user", "issue_chat_app"]

_PUBLISHER = 1
_SUBSCRIBER = 2

_build_rtc = RtcTokenBuilder.build_token_with_uid
_build_rtm = RtmTokenBuilder.build_token
_build_chat_user = ChatTokenBuilder.build_user_token
_build_chat_app = ChatTokenBuilder.build_app_token


async def run_issue_hooks(request: web.Request, kind: str, channel: str,
                          uid: Union[int, str, None], role: Optional[str], expire: int) -> None:
    for hook in request.app[ISSUE_HOOKS]:
        result = hook(request, kind, channel, uid, role, expire)
        if result is not None and inspect.isawaitable(result):
            await result


def _issued(request: web.Request, kind: str) -> None:
    for hook in request.app[ISSUED_HOOKS]:
        hook(request, kind)


async def issue_rtc(request: web.Request, channel: str, uid: Union[int, str], publisher: bool,
                    expire: int) -> str:
    """RTC token; ``expire`` is the token's and every privilege's lifetime."""
    app = request.app
    if app[ISSUE_HOOKS]:
        await run_issue_hooks(request, "rtc", channel, uid,
                              "publisher" if publisher else "subscriber", expire)
    s = app[SETTINGS]
    token = _build_rtc(s.app_id, s.app_certificate, channel, uid,
                       _PUBLISHER if publisher else _SUBSCRIBER, expire, expire)
    if app[ISSUED_HOOKS]:
        _issued(request, "rtc")
    return token


async def issue_rtm(request: web.Request, user_id: str, expire: int, channel: str = "") -> str:
    """RTM login token; a non-empty ``channel`` adds its stream-channel RTC service."""
    app = request.app
    if app[ISSUE_HOOKS]:
        await run_issue_hooks(request, "rtm", channel, user_id, None, expire)
    s = app[SETTINGS]
    token = _build_rtm(s.app_id, s.app_certificate, user_id, expire, channel)
    if app[ISSUED_HOOKS]:
        _issued(request, "rtm")
    return token


async def issue_chat_user(request: web.Request, user_id: str, expire: int) -> str:
    app = request.app
    if app[ISSUE_HOOKS]:
        await run_issue_hooks(request, "chat", "", user_id, None, expire)
    s = app[SETTINGS]
    token = _build_chat_user(s.app_id, s.app_certificate, user_id, expire)
    if app[ISSUED_HOOKS]:
        _issued(request, "chat")
    return token


async def issue_chat_app(request: web.Request, expire: int) -> str:
    app = request.app
    if app[ISSUE_HOOKS]:
        await run_issue_hooks(request, "chat_app", "", None, None, expire)
    s = app[SETTINGS]
    token = _build_chat_app(s.app_id, s.app_certificate, expire)
    if app[ISSUED_HOOKS]:
        _issued(request, "chat_app")
    return token
