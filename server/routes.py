"""Handlers for the original service's endpoints (``shared/spec/http-api.md``).

``POST /getToken`` answers errors as ``{"error": "..."}``; the deprecated GET
routes as ``{"status": 400, "message": "..."}`` for bad parameters and
``{"status": 400, "error": "..."}`` when the token cannot be built, like the
original (its clients parse those keys).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, List, Tuple, Union

from aiohttp import web

from agora_token import InvalidParameterError
from agora_token._validate import parse_uid_text

from .issuing import issue_chat_app, issue_chat_user, issue_rtc, issue_rtm
from .responses import IssueDenied, json_error, json_response, token_body

__all__ = ["setup_routes"]

U32_MAX = 0xFFFFFFFF
DEFAULT_EXPIRE = 3600
_PONG = b'{"message": "pong"}'
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_TOKEN_TYPES = "rtc, rtm or chat"


class BadParameter(Exception):
    """A bad request parameter (answered 400)."""


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


# --------------------------------------------------------------------------- /ping

async def ping(request: web.Request) -> web.Response:
    return web.Response(body=_PONG, headers=_JSON_HEADERS)


# --------------------------------------------------------------------------- POST /getToken

def _opt_str(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise BadParameter(f"{key} must be a string")
    return value


def _expire_field(data: dict) -> int:
    value = data.get("expire")
    if value is None or value == 0 and type(value) is int:
        return DEFAULT_EXPIRE
    if type(value) is not int:
        raise BadParameter("expire must be an integer number of seconds")
    if not 0 <= value <= U32_MAX:
        raise BadParameter(f"expire must be in 0..{U32_MAX} seconds, got {value}")
    return value


def _uid_field(data: dict) -> Union[str, int]:
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


async def get_token(request: web.Request) -> web.Response:
    body = await request.read()  # over client_max_size -> 413
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return json_error(400, "request body must be a JSON object, e.g. "
                               '{"tokenType": "rtc", "channel": "test", "uid": "42", "role": "publisher"}')
    if type(data) is not dict:
        return json_error(400, "request body must be a JSON object")
    try:
        kind = data.get("tokenType")
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
            if type(uid) is str:
                try:
                    n = parse_uid_text(uid)
                except InvalidParameterError:
                    raise BadParameter(f"uid {_shown(uid)} is above {U32_MAX}") from None
                if n is not None:
                    uid = n
            token = await issue_rtc(request, channel, uid, role == "publisher", expire)
        elif kind == "rtm":
            channel = _opt_str(data, "channel")
            if uid == "":
                raise BadParameter("missing uid (required for rtm tokens)")
            token = await issue_rtm(request, str(uid), expire, channel)
        elif kind == "chat":
            if uid == "":
                token = await issue_chat_app(request, expire)
            else:
                token = await issue_chat_user(request, str(uid), expire)
        else:
            raise BadParameter(f"unsupported tokenType {_shown(kind)}: use {_TOKEN_TYPES}")
    except BadParameter as exc:
        return json_error(400, str(exc))
    except InvalidParameterError as exc:
        return json_error(400, str(exc))
    except IssueDenied as exc:
        return json_error(exc.status, exc.message, exc.headers)
    return token_body("token", token)


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
        try:
            n = parse_uid_text(text)
        except InvalidParameterError:
            raise BadParameter(f"rtcuid {_shown(text)} is above {U32_MAX}") from None
        if n is None:
            raise BadParameter(f"rtcuid {_shown(text)} is not a number in 0..{U32_MAX} "
                               "(use tokenType userAccount for string accounts)")
        return n
    if token_type == "userAccount":
        if not text:
            raise BadParameter("rtcuid (the user account) must not be empty")
        return text
    raise BadParameter(f"unknown tokenType {_shown(token_type)}: use uid or userAccount")


def _legacy_bad(what: str, exc: Exception) -> web.Response:
    return json_response({"status": 400, "message": f"Error Generating {what} token: {exc}"}, 400)


def _legacy_failed(what: str, exc: Exception) -> web.Response:
    return json_response({"status": 400, "error": f"Error Generating {what} token - {exc}"}, 400)


def _legacy_denied(exc: IssueDenied) -> web.Response:
    key = "message" if exc.status == 400 else "error"
    return json_response({"status": exc.status, key: exc.message}, exc.status, exc.headers)


# Each deprecated route is a ``prepare(request, expire)`` that checks the path
# (raising BadParameter) and returns the coroutine that issues its tokens, as
# ``[(json_key, token), ...]``; :func:`_legacy_route` supplies the expiry
# parsing and the original's three error styles.
Issued = List[Tuple[str, str]]
Prepare = Callable[[web.Request, int], Awaitable[Issued]]


def _legacy_route(what: str, prepare: Prepare) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        try:
            issuing = prepare(request, _expiry(request))
        except BadParameter as exc:
            return _legacy_bad(what, exc)
        try:
            tokens = await issuing
        except InvalidParameterError as exc:
            return _legacy_failed(what, exc)
        except IssueDenied as exc:
            return _legacy_denied(exc)
        if len(tokens) == 1:
            return token_body(*tokens[0])
        body = ", ".join('"%s": "%s"' % pair for pair in tokens)  # tokens: nothing to escape
        return web.Response(body=("{" + body + "}").encode("ascii"), headers=_JSON_HEADERS)

    return handler


def _rtc_prepare(request: web.Request, expire: int) -> Awaitable[Issued]:
    mi = request.match_info
    uid = _path_uid(mi["tokenType"], mi["rtcuid"])

    async def issue() -> Issued:
        return [("rtcToken", await issue_rtc(request, mi["channelName"], uid, mi["role"] == "publisher", expire))]

    return issue()


def _rtm_prepare(request: web.Request, expire: int) -> Awaitable[Issued]:
    user = request.match_info["rtmuid"]
    if user == "" or user == "0":
        raise BadParameter("rtmuid must be a non-empty user id other than 0")

    async def issue() -> Issued:
        return [("rtmToken", await issue_rtm(request, user, expire))]

    return issue()


def _rte_prepare(request: web.Request, expire: int) -> Awaitable[Issued]:
    mi = request.match_info
    channel = mi["channelName"]
    rtcuid = mi["rtcuid"]
    uid = _path_uid(mi["tokenType"], rtcuid)
    rtm_user = mi.get("rtmuid") or rtcuid
    # uid 0 ("any user") is no RTM user id: without :rtmuid that is a 400,
    # like /rtm/0/ (http-api.md: "uid 0 and no :rtmuid -> 400")
    if not rtm_user or (not mi.get("rtmuid") and uid == 0):
        raise BadParameter("no RTM user: give rtmuid (/rte/:channelName/:role/:tokenType/:rtcuid/:rtmuid/) "
                           "or a non-empty rtcuid")

    async def issue() -> Issued:
        rtc = await issue_rtc(request, channel, uid, mi["role"] == "publisher", expire)
        return [("rtcToken", rtc), ("rtmToken", await issue_rtm(request, rtm_user, expire, channel))]

    return issue()


def _chat_app_prepare(request: web.Request, expire: int) -> Awaitable[Issued]:
    async def issue() -> Issued:
        return [("chatToken", await issue_chat_app(request, expire))]

    return issue()


def _chat_user_prepare(request: web.Request, expire: int) -> Awaitable[Issued]:
    user = request.match_info["chatid"]
    if not user:
        raise BadParameter("chatid must not be empty")

    async def issue() -> Issued:
        return [("chatToken", await issue_chat_user(request, user, expire))]

    return issue()


rtc_get = _legacy_route("RTC", _rtc_prepare)
rtm_get = _legacy_route("RTM", _rtm_prepare)
rte_get = _legacy_route("RTE", _rte_prepare)
chat_app_get = _legacy_route("Chat", _chat_app_prepare)
chat_user_get = _legacy_route("Chat", _chat_user_prepare)


# --------------------------------------------------------------------------- registration

_SEG = "[^/]*"  # path parameters may be empty (the original's router allows it)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ping", ping, name="ping")
    r.add_post("/getToken", get_token, name="getToken")
    r.add_get(f"/rtc/{{channelName:{_SEG}}}/{{role:{_SEG}}}/{{tokenType:{_SEG}}}/{{rtcuid:{_SEG}}}/",
              rtc_get, name="rtc")
    r.add_get(f"/rtm/{{rtmuid:{_SEG}}}/", rtm_get, name="rtm")
    r.add_get(f"/rte/{{channelName:{_SEG}}}/{{role:{_SEG}}}/{{tokenType:{_SEG}}}/{{rtcuid:{_SEG}}}/",
              rte_get, name="rte")
    r.add_get(f"/rte/{{channelName:{_SEG}}}/{{role:{_SEG}}}/{{tokenType:{_SEG}}}/{{rtcuid:{_SEG}}}/"
              f"{{rtmuid:{_SEG}}}/", rte_get, name="rte_rtmuid")
    r.add_get("/chat/app/", chat_app_get, name="chat_app")
    r.add_get(f"/chat/account/{{chatid:{_SEG}}}/", chat_user_get, name="chat_account")
