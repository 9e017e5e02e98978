"""The token endpoints (``shared/spec/http-api.md``): the original service's
``POST /getToken`` and deprecated GET routes, and Agora's reference server's
``POST /token/generate`` (parsed by :mod:`server.token_generate`).

Each handler parses its input into one :class:`server.policy.TokenRequest`
and hands it to the issuer (:meth:`server.issuing.Issuer.issue`: the one
policy check, then the one builder); the handler only renders the answer.

``POST /getToken`` answers errors as ``{"error": "..."}``; the deprecated GET
routes as ``{"status": 400, "message": "..."}`` for bad parameters and
``{"status": 400, "error": "..."}`` when the token cannot be built, like the
original (its clients parse those keys); ``POST /token/generate`` as
``{"code": -1 | -2, "message": "...", "data": ""}``, like Agora's reference.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Union

from aiohttp import web

from agora_token import InvalidParameterError, rules
from agora_token.constants import (
    DEFAULT_EXPIRE,
    MAX_CHANNEL_NAME_BYTES,
    U32_MAX,
    ChatPrivilege,
    RtcPrivilege,
    RtmPrivilege,
    ServiceType,
)
from agora_token.rules import RequestError as BadParameter

from . import audit
from .pipeline import read_body
from .policy import RTC_JOIN, RTC_PUBLISH, ServiceGrant, TokenRequest, TokenSpec
from .responses import IssueDenied, error_response, json_error, json_response, shaped_error, token_body, token_response
from .state import CONTEXT, ServiceState
from .token_generate import CODE_NOT_BUILT, GenerateError, parse_generate

__all__ = ["TokenRoutes", "chat_token", "rtc_request", "rtc_token", "rtm_token"]

_TOKEN_TYPES = "rtc, rtm or chat"
_EXAMPLE = '{"tokenType": "rtc", "channel": "test", "uid": "42", "role": "publisher"}'


# --------------------------------------------------------------------------- the original's tokens

# privilege ids as plain ints: the core packs them fastest
_STREAM = (int(RtcPrivilege.JOIN_CHANNEL), int(RtcPrivilege.PUBLISH_DATA_STREAM))
_LOGIN, _CHAT_USER, _CHAT_APP = int(RtmPrivilege.LOGIN), int(ChatPrivilege.USER), int(ChatPrivilege.APP)


def rtc_token(key: str, channel: str, uid: Union[int, str], publisher: bool, expire: int) -> TokenSpec:
    """An RTC token: a numeric uid (0: any user) or a user account (at most
    255 bytes when signed); join, and for a publisher publish audio, video
    and data."""
    privileges = dict.fromkeys(RTC_PUBLISH if publisher else RTC_JOIN, expire)
    return TokenSpec(key, expire, (ServiceGrant(ServiceType.RTC, privileges, channel, uid,
                                                checked_as="account" if type(uid) is str else None),))


def rtc_request(key: str, channel: str, uid: Union[int, str], publisher: bool, expire: int) -> TokenRequest:
    return TokenRequest((rtc_token(key, channel, uid, publisher, expire),))


def rtm_token(key: str, user: str, expire: int, channel: str = "") -> TokenSpec:
    """An RTM login token; a non-empty ``channel`` adds the stream channel's
    RTC service (join and publish data, for the same user), as the original
    does. Its publish privilege is optional: a subscriber-only caller gets
    the stream channel with join only."""
    services: tuple[ServiceGrant, ...] = (ServiceGrant(ServiceType.RTM, {_LOGIN: expire}, user=user,
                                                       checked_as="user_id"),)
    if channel:
        services += (ServiceGrant(ServiceType.RTC, dict.fromkeys(_STREAM, expire), channel, user,
                                  publish_optional=True),)
    return TokenSpec(key, expire, services)


def chat_token(key: str, user: str, expire: int) -> TokenSpec:
    """A Chat user token, or the app token when ``user`` is empty."""
    if not user:
        return TokenSpec(key, expire, (ServiceGrant(ServiceType.CHAT, {_CHAT_APP: expire}),))
    return TokenSpec(key, expire, (ServiceGrant(ServiceType.CHAT, {_CHAT_USER: expire}, user=user,
                                                checked_as="user_id"),))


# --------------------------------------------------------------------------- POST /getToken

def _opt_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise BadParameter(f"{key} must be a string")
    return value


def _parse_get_token(data: dict[str, Any]) -> TokenRequest:
    """The body of ``POST /getToken`` as a request for one token, checked by
    the rules ``agora-token`` follows too (:mod:`agora_token.rules`)."""
    kind = data.get("tokenType")
    if kind == "rtc":  # the usual request, checked inline
        channel, uid, role, expire = data.get("channel"), data.get("uid"), data.get("role"), data.get("expire")
        if (type(channel) is str and channel and len(channel) <= MAX_CHANNEL_NAME_BYTES and channel.isascii()
                and type(uid) is str and uid.isdigit() and len(uid) < 10 and uid.isascii()
                and (role is None or type(role) is str)
                and (expire is None or type(expire) is int and 0 < expire <= U32_MAX)):
            return rtc_request("token", channel, int(uid), role == "publisher", expire or DEFAULT_EXPIRE)
    if kind is None or kind == "":
        raise BadParameter(f"missing tokenType: use {_TOKEN_TYPES}")
    if type(kind) is not str:
        raise BadParameter(f"tokenType must be a string: use {_TOKEN_TYPES}")
    expire = rules.token_expire(data.get("expire"))
    if kind == "rtc":
        channel = rules.required_channel(data.get("channel"))
        role = _opt_str(data, "role")
        return rtc_request("token", channel, rules.rtc_uid(data.get("uid")), role == "publisher", expire)
    if kind == "rtm":
        channel = rules.optional_channel(data.get("channel"))
        return TokenRequest((rtm_token("token", rules.rtm_user(data.get("uid")), expire, channel),))
    if kind == "chat":
        return TokenRequest((chat_token("token", rules.chat_user(data.get("uid")), expire),))
    raise BadParameter(f"unsupported tokenType {rules.quoted(kind)}: use {_TOKEN_TYPES}")


# --------------------------------------------------------------------------- deprecated GET routes

def _expiry(request: web.Request) -> int:
    if not request.rel_url.raw_query_string:
        return DEFAULT_EXPIRE
    raw = request.rel_url.query.get("expiry")
    if raw is None:
        return DEFAULT_EXPIRE
    return rules.parse_expire(raw, "expiry")


def _path_uid(token_type: str, text: str) -> Union[int, str]:
    if token_type == "uid":
        if text == "":
            return 0
        n = rules.uid_number(text, "rtcuid")
        if n is None:
            raise BadParameter(f"rtcuid {rules.quoted(text)} is not a number in 0..{U32_MAX} "
                               "(use tokenType userAccount for string accounts)")
        return n
    if token_type == "userAccount":
        if not text:
            raise BadParameter("rtcuid (the user account) must not be empty")
        return text
    raise BadParameter(f"unknown tokenType {rules.quoted(token_type)}: use uid or userAccount")


def _rtc(mi: Any, expire: int) -> TokenRequest:
    uid = _path_uid(mi["tokenType"], mi["rtcuid"])
    return rtc_request("rtcToken", mi["channelName"], uid, mi["role"] == "publisher", expire)


def _rtm(mi: Any, expire: int) -> TokenRequest:
    return TokenRequest((rtm_token("rtmToken", rules.rtm_user(mi["rtmuid"], "rtmuid"), expire),))


def _rte(mi: Any, expire: int) -> TokenRequest:
    uid = _path_uid(mi["tokenType"], mi["rtcuid"])
    # the RTM user is :rtmuid, or :rtcuid as written; "", "0" and uid 0 ("000") are refused
    rtm_user = rules.rte_rtm_user(mi.get("rtmuid"), mi["rtcuid"], uid, "rtmuid", "rtcuid",
                                  " (/rte/:channelName/:role/:tokenType/:rtcuid/:rtmuid/)")
    channel = mi["channelName"]
    return TokenRequest((rtc_token("rtcToken", channel, uid, mi["role"] == "publisher", expire),
                         rtm_token("rtmToken", rtm_user, expire, channel)))


def _chat_app(mi: Any, expire: int) -> TokenRequest:
    return TokenRequest((chat_token("chatToken", "", expire),))


def _chat_user(mi: Any, expire: int) -> TokenRequest:
    user = mi["chatid"]
    if not user:
        raise BadParameter("chatid must not be empty")
    return TokenRequest((chat_token("chatToken", user, expire),))


Parse = Callable[[Any, int], TokenRequest]
Handler = Callable[[web.Request], Awaitable[web.Response]]


class TokenRoutes:
    """The handlers, bound to one app's issuer. ``request[CONTEXT]`` (the
    caller) is read only when the guard is on: only then is it set."""

    def __init__(self, state: ServiceState) -> None:
        self.issuer = state.issuer
        self.with_context = state.guard is not None or audit.TRAIL is not None
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
            tokens = self.issuer.issue(request[CONTEXT] if self.with_context else None, _parse_get_token(data))
        except (BadParameter, InvalidParameterError) as exc:
            return json_error(400, str(exc))
        except IssueDenied as exc:
            return error_response("error", exc)
        return token_response("token", tokens[0][1])

    async def token_generate(self, request: web.Request) -> web.Response:
        """``POST /token/generate``, as Agora's reference token server answers it."""
        body = await read_body(request)
        try:
            req = parse_generate(body)
            req = self.issuer.admit(request[CONTEXT] if self.with_context else None, req)
        except GenerateError as exc:
            return json_response({"code": exc.code, "message": exc.message, "data": ""}, 400)
        except InvalidParameterError as exc:
            return shaped_error("code", 400, str(exc))
        except IssueDenied as exc:
            return error_response("code", exc)
        try:
            tokens = self.issuer.sign(req, request[CONTEXT] if self.with_context else None)
        except InvalidParameterError as exc:
            return json_response({"code": CODE_NOT_BUILT, "message": f"the token cannot be built: {exc}",
                                  "data": ""}, 400)
        return json_response({"code": 0, "message": "Success", "data": {"token": tokens[0][1]}})

    def _legacy(self, what: str, parse: Parse) -> Handler:
        """A deprecated GET route: the expiry query and the original's three error styles."""
        issuer = self.issuer
        with_context = self.with_context

        async def handler(request: web.Request) -> web.Response:
            try:
                tokens = issuer.issue(request[CONTEXT] if with_context else None,
                                      parse(request.match_info, _expiry(request)))
            except BadParameter as exc:
                return json_response({"status": 400, "message": f"Error Generating {what} token: {exc}"}, 400)
            except InvalidParameterError as exc:
                return json_response({"status": 400, "error": f"Error Generating {what} token - {exc}"}, 400)
            except IssueDenied as exc:
                return error_response("status", exc)
            if len(tokens) == 1:
                return token_response(*tokens[0])
            return token_body(*tokens)

        handler.__name__ = f"{what.lower()}_get"
        return handler
