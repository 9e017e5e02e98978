"""The original service's token endpoints (``shared/spec/http-api.md``):
``POST /getToken`` and the deprecated GET routes.

``POST /getToken`` answers errors as ``{"error": "..."}``; the deprecated GET
routes as ``{"status": 400, "message": "..."}`` for bad parameters and
``{"status": 400, "error": "..."}`` when the token cannot be built, like the
original (its clients parse those keys).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Optional, Union

from aiohttp import web

from agora_token import InvalidParameterError, parse_uid
from agora_token.constants import DEFAULT_EXPIRE, U32_MAX

from .issuing import Issuer
from .pipeline import read_body
from .responses import IssueDenied, json_error, json_response, token_body, token_response
from .state import CONTEXT, RequestContext, ServiceState

__all__ = ["TokenRoutes"]

_TOKEN_TYPES = "rtc, rtm or chat"
_EXAMPLE = '{"tokenType": "rtc", "channel": "test", "uid": "42", "role": "publisher"}'


class BadParameter(Exception):
    """A bad request parameter (answered 400)."""


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def _check_rtm_user(user: str, what: str) -> str:
    # an RTM user "0" is refused on every route, as by the original
    if user == "" or user == "0":
        raise BadParameter(f"{what} must be a non-empty user id other than 0")
    return user


# --------------------------------------------------------------------------- POST /getToken

def _opt_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise BadParameter(f"{key} must be a string")
    return value


def _expire_field(data: dict[str, Any]) -> int:
    value = data.get("expire")
    if value is None or value == 0 and type(value) is int:
        return DEFAULT_EXPIRE
    if type(value) is not int:
        raise BadParameter("expire must be an integer number of seconds")
    if not 0 <= value <= U32_MAX:
        raise BadParameter(f"expire must be in 0..{U32_MAX} seconds, got {value}")
    return value


def _uid_field(data: dict[str, Any]) -> Union[str, int]:
    """The ``uid`` as sent: str ("" when missing) or an int (a JSON number)."""
    value = data.get("uid")
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is int:
        if not 0 <= value <= U32_MAX:
            raise BadParameter(f"uid must be in 0..{U32_MAX}, got {value}")
        return value
    raise BadParameter("uid must be a string or a non-negative integer")


def _uid_number(text: str, what: str) -> Optional[int]:
    """The numeric uid ``text`` names (plain decimal digits), else None."""
    if text.isdigit() and len(text) < 10 and text.isascii():  # the usual case: no overflow possible
        return int(text)
    try:
        return parse_uid(text)
    except InvalidParameterError:
        raise BadParameter(f"{what} {_shown(text)} is above {U32_MAX}") from None


def _rtc_uid(uid: Union[str, int]) -> Union[str, int]:
    if type(uid) is str:
        n = _uid_number(uid, "uid")
        if n is not None:
            return n
    return uid


def _issue(issuer: Issuer, ctx: Optional[RequestContext], data: dict[str, Any]) -> str:
    kind = data.get("tokenType")
    if kind == "rtc":  # the usual request, checked inline
        channel, uid, role, expire = data.get("channel"), data.get("uid"), data.get("role"), data.get("expire")
        if (type(channel) is str and channel and type(uid) is str and uid.isdigit() and len(uid) < 10
                and uid.isascii() and (role is None or type(role) is str)
                and (expire is None or type(expire) is int and 0 < expire <= U32_MAX)):
            return issuer.rtc(ctx, channel, int(uid), role == "publisher", expire or DEFAULT_EXPIRE)
    if kind is None or kind == "":
        raise BadParameter(f"missing tokenType: use {_TOKEN_TYPES}")
    if type(kind) is not str:
        raise BadParameter(f"tokenType must be a string: use {_TOKEN_TYPES}")
    expire = _expire_field(data)
    uid = _uid_field(data)
    if kind == "rtc":
        channel = _opt_str(data, "channel")
        role = _opt_str(data, "role")
        if not channel:
            raise BadParameter("missing channel (required for rtc tokens)")
        if uid == "":
            raise BadParameter('missing uid (required for rtc tokens; "0" means any user)')
        return issuer.rtc(ctx, channel, _rtc_uid(uid), role == "publisher", expire)
    if kind == "rtm":
        channel = _opt_str(data, "channel")
        if uid == "":
            raise BadParameter("missing uid (required for rtm tokens)")
        return issuer.rtm(ctx, _check_rtm_user(str(uid), "uid (for rtm tokens)"), expire, channel)
    if kind == "chat":
        if uid == "":
            return issuer.chat_app(ctx, expire)
        return issuer.chat_user(ctx, str(uid), expire)
    raise BadParameter(f"unsupported tokenType {_shown(kind)}: use {_TOKEN_TYPES}")


# --------------------------------------------------------------------------- deprecated GET routes

def _expiry(request: web.Request) -> int:
    if not request.rel_url.raw_query_string:
        return DEFAULT_EXPIRE
    raw = request.rel_url.query.get("expiry")
    if raw is None:
        return DEFAULT_EXPIRE
    if not (raw.isascii() and raw.isdigit()) or len(raw.lstrip("0")) > 10 or int(raw) > U32_MAX:
        raise BadParameter(f"expiry must be a whole number of seconds in 0..{U32_MAX}, got {_shown(raw)}")
    return int(raw)


def _path_uid(token_type: str, text: str) -> Union[int, str]:
    if token_type == "uid":
        if text == "":
            return 0
        n = _uid_number(text, "rtcuid")
        if n is None:
            raise BadParameter(f"rtcuid {_shown(text)} is not a number in 0..{U32_MAX} "
                               "(use tokenType userAccount for string accounts)")
        return n
    if token_type == "userAccount":
        if not text:
            raise BadParameter("rtcuid (the user account) must not be empty")
        return text
    raise BadParameter(f"unknown tokenType {_shown(token_type)}: use uid or userAccount")


def _rtc(issuer: Issuer, ctx: Optional[RequestContext], mi: Any, expire: int) -> list[tuple[str, str]]:
    uid = _path_uid(mi["tokenType"], mi["rtcuid"])
    return [("rtcToken", issuer.rtc(ctx, mi["channelName"], uid, mi["role"] == "publisher", expire))]


def _rtm(issuer: Issuer, ctx: Optional[RequestContext], mi: Any, expire: int) -> list[tuple[str, str]]:
    return [("rtmToken", issuer.rtm(ctx, _check_rtm_user(mi["rtmuid"], "rtmuid"), expire))]


def _rte(issuer: Issuer, ctx: Optional[RequestContext], mi: Any, expire: int) -> list[tuple[str, str]]:
    uid = _path_uid(mi["tokenType"], mi["rtcuid"])
    # the RTM user is :rtmuid, or :rtcuid as written; "", "0" and uid 0 ("000") are refused
    rtm_user = mi.get("rtmuid") or mi["rtcuid"]
    if rtm_user == "" or rtm_user == "0" or (not mi.get("rtmuid") and uid == 0):
        raise BadParameter("no RTM user: give rtmuid (/rte/:channelName/:role/:tokenType/:rtcuid/:rtmuid/) "
                           "or an rtcuid other than empty or 0")
    rtc, rtm = issuer.rte(ctx, mi["channelName"], uid, mi["role"] == "publisher", rtm_user, expire)
    return [("rtcToken", rtc), ("rtmToken", rtm)]


def _chat_app(issuer: Issuer, ctx: Optional[RequestContext], mi: Any, expire: int) -> list[tuple[str, str]]:
    return [("chatToken", issuer.chat_app(ctx, expire))]


def _chat_user(issuer: Issuer, ctx: Optional[RequestContext], mi: Any, expire: int) -> list[tuple[str, str]]:
    user = mi["chatid"]
    if not user:
        raise BadParameter("chatid must not be empty")
    return [("chatToken", issuer.chat_user(ctx, user, expire))]


Issue = Callable[[Issuer, Optional[RequestContext], Any, int], list[tuple[str, str]]]
Handler = Callable[[web.Request], Awaitable[web.Response]]


class TokenRoutes:
    """The handlers, bound to one app's issuer. ``request[CONTEXT]`` (the
    caller) is read only when the guard is on: only then is it set."""

    def __init__(self, state: ServiceState) -> None:
        self.issuer = state.issuer
        self.with_context = state.guard is not None
        self.rtc_get = self._legacy("RTC", _rtc)
        self.rtm_get = self._legacy("RTM", _rtm)
        self.rte_get = self._legacy("RTE", _rte)
        self.chat_app_get = self._legacy("Chat", _chat_app)
        self.chat_user_get = self._legacy("Chat", _chat_user)

    async def get_token(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return json_error(400, f"request body must be a JSON object, e.g. {_EXAMPLE}")
        if type(data) is not dict:
            return json_error(400, "request body must be a JSON object")
        try:
            token = _issue(self.issuer, request[CONTEXT] if self.with_context else None, data)
        except (BadParameter, InvalidParameterError) as exc:
            return json_error(400, str(exc))
        except IssueDenied as exc:
            return json_error(exc.status, exc.message, exc.headers)
        return token_response("token", token)

    def _legacy(self, what: str, issue: Issue) -> Handler:
        """A deprecated GET route: the expiry query and the original's three error styles."""
        issuer = self.issuer
        with_context = self.with_context

        async def handler(request: web.Request) -> web.Response:
            try:
                tokens = issue(issuer, request[CONTEXT] if with_context else None, request.match_info,
                               _expiry(request))
            except BadParameter as exc:
                return json_response({"status": 400, "message": f"Error Generating {what} token: {exc}"}, 400)
            except InvalidParameterError as exc:
                return json_response({"status": 400, "error": f"Error Generating {what} token - {exc}"}, 400)
            except IssueDenied as exc:
                key = "message" if exc.status == 400 else "error"
                return json_response({"status": exc.status, key: exc.message}, exc.status, exc.headers)
            if len(tokens) == 1:
                return token_response(*tokens[0])
            return token_body(*tokens)

        handler.__name__ = f"{what.lower()}_get"
        return handler
