"""Handlers for the original service's endpoints (``shared/spec/http-api.md``).

``POST /getToken`` answers errors as ``{"error": "..."}``; the deprecated GET
routes as ``{"status": 400, "message": "..."}`` for bad parameters and
``{"status": 400, "error": "..."}`` when the token cannot be built, like the
original (its clients parse those keys).
"""

from __future__ import annotations

import json
from typing import Any, Union

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
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > U32_MAX:
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


async def rtc_get(request: web.Request) -> web.Response:
    mi = request.match_info
    try:
        expire = _expiry(request)
        uid = _path_uid(mi["tokenType"], mi["rtcuid"])
    except BadParameter as exc:
        return _legacy_bad("RTC", exc)
    try:
        token = await issue_rtc(request, mi["channelName"], uid, mi["role"] == "publisher", expire)
    except InvalidParameterError as exc:
        return _legacy_failed("RTC", exc)
    except IssueDenied as exc:
        return _legacy_denied(exc)
    return token_body("rtcToken", token)


async def rtm_get(request: web.Request) -> web.Response:
    user = request.match_info["rtmuid"]
    try:
        expire = _expiry(request)
        if user == "" or user == "0":
            raise BadParameter("rtmuid must be a non-empty user id other than 0")
    except BadParameter as exc:
        return _legacy_bad("RTM", exc)
    try:
        token = await issue_rtm(request, user, expire)
    except InvalidParameterError as exc:
        return _legacy_failed("RTM", exc)
    except IssueDenied as exc:
        return _legacy_denied(exc)
    return token_body("rtmToken", token)


async def rte_get(request: web.Request) -> web.Response:
    mi = request.match_info
    channel = mi["channelName"]
    rtcuid = mi["rtcuid"]
    try:
        expire = _expiry(request)
        uid = _path_uid(mi["tokenType"], rtcuid)
        rtm_user = mi.get("rtmuid") or rtcuid
        # uid 0 ("any user") is no RTM user id: without :rtmuid that is a 400,
        # like /rtm/0/ (http-api.md: "uid 0 and no :rtmuid -> 400")
        if not rtm_user or (not mi.get("rtmuid") and uid == 0):
            raise BadParameter("no RTM user: give rtmuid (/rte/:channelName/:role/:tokenType/:rtcuid/:rtmuid/) "
                               "or a non-empty rtcuid")
    except BadParameter as exc:
        return _legacy_bad("RTE", exc)
    try:
        rtc = await issue_rtc(request, channel, uid, mi["role"] == "publisher", expire)
        rtm = await issue_rtm(request, rtm_user, expire, channel)
    except InvalidParameterError as exc:
        return _legacy_failed("RTE", exc)
    except IssueDenied as exc:
        return _legacy_denied(exc)
    return web.Response(body=b'{"rtcToken": "%s", "rtmToken": "%s"}' % (rtc.encode(), rtm.encode()),
                        headers=_JSON_HEADERS)


async def chat_app_get(request: web.Request) -> web.Response:
    try:
        expire = _expiry(request)
    except BadParameter as exc:
        return _legacy_bad("Chat", exc)
    try:
        token = await issue_chat_app(request, expire)
    except InvalidParameterError as exc:
        return _legacy_failed("Chat", exc)
    except IssueDenied as exc:
        return _legacy_denied(exc)
    return token_body("chatToken", token)


async def chat_user_get(request: web.Request) -> web.Response:
    user = request.match_info["chatid"]
    try:
        expire = _expiry(request)
        if not user:
            raise BadParameter("chatid must not be empty")
    except BadParameter as exc:
        return _legacy_bad("Chat", exc)
    try:
        token = await issue_chat_user(request, user, expire)
    except InvalidParameterError as exc:
        return _legacy_failed("Chat", exc)
    except IssueDenied as exc:
        return _legacy_denied(exc)
    return token_body("chatToken", token)


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
