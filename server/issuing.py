"""The one place the service signs tokens.

For each token, :class:`Issuer` checks the exact values the token will carry
against the policy (``MAX_EXPIRE``, ``CHANNEL_PATTERN``: 400) and the
caller's claims (403), then builds it and counts it. ``/rte/`` checks both of
its tokens before it builds either. With authentication on, a request that
did not pass the guard (a route registered without ``guarded=True``) gets no
token (401): the issuing code fails closed.

A JWT caller limited to ``role: "subscriber"`` gets no publish privilege by
any route: its RTM tokens with a channel carry the stream channel's join
privilege but not ``publishDataStream`` (a deliberate difference from the
original, which applies only under JWT role limits).

Library errors (:class:`agora_token.InvalidParameterError`, e.g. a channel
over 64 bytes) propagate to the handler, which answers 400.
"""

from __future__ import annotations

import logging
from typing import Optional, Union

from agora_token import (
    AccessToken,
    ChatTokenBuilder,
    RtcTokenBuilder,
    RtmTokenBuilder,
    ServiceRtc,
    ServiceRtm,
)
from agora_token.constants import DEFAULT_EXPIRE, Role, RtcPrivilege, RtmPrivilege

from . import metrics
from .auth import Caller, authorize
from .config import Settings
from .policy import PolicyViolation, TokenRequest, check_policy
from .responses import IssueDenied
from .state import RequestContext

__all__ = ["DEFAULT_EXPIRE", "Issuer"]

log = logging.getLogger("server.issuing")

Uid = Union[int, str]

_ROLE = {True: int(Role.PUBLISHER), False: int(Role.SUBSCRIBER)}
_build_rtc = RtcTokenBuilder.build_token_with_uid
_build_rtm = RtmTokenBuilder.build_token
_build_chat_user = ChatTokenBuilder.build_user_token
_build_chat_app = ChatTokenBuilder.build_app_token


class Issuer:
    def __init__(self, settings: Settings) -> None:
        self.app_id = settings.app_id
        self._cert = settings.app_certificate
        self.policy = settings.policy
        self.auth_enabled = settings.auth.enabled
        self.allow_any_uid = settings.auth.jwt is not None and settings.auth.jwt.allow_any_uid
        #: whether check() has anything to do
        self.checking = self.auth_enabled or settings.policy.active

    def check(self, ctx: Optional[RequestContext], req: TokenRequest) -> None:
        """Raise :class:`IssueDenied` unless the token ``req`` may be issued."""
        violation: Optional[PolicyViolation] = check_policy(self.policy, req, DEFAULT_EXPIRE)
        if violation is None and self.auth_enabled:
            caller: Optional[Caller] = ctx.caller if ctx is not None else None
            if caller is None:  # fail closed: this route bypassed the guard
                log.error("a token was requested on a route without authentication; refusing")
                raise IssueDenied(401, "authentication required", {"WWW-Authenticate": "Bearer"},
                                  "missing_credentials")
            violation = authorize(caller, req, self.allow_any_uid)
            if violation is not None:
                metrics.LOCAL.auth_failure(violation.reason)
        if violation is not None:
            raise IssueDenied(violation.status, violation.message, reason=violation.reason)

    def _subscriber_only(self, ctx: Optional[RequestContext]) -> bool:
        caller = ctx.caller if ctx is not None else None
        return caller is not None and caller.subscriber_only

    # ------------------------------------------------------------------ kinds

    def check_rtc(self, ctx: Optional[RequestContext], channel: str, uid: Uid, publisher: bool,
                  expire: int) -> None:
        if self.checking:
            self.check(ctx, TokenRequest("rtc", channel, uid, (), publisher, expire))

    def check_rtm(self, ctx: Optional[RequestContext], user_id: str, expire: int, channel: str = "") -> None:
        if self.checking:
            self.check(ctx, TokenRequest("rtm", channel or None, None, (user_id,), False, expire))

    def build_rtc(self, channel: str, uid: Uid, publisher: bool, expire: int) -> str:
        return _build_rtc(self.app_id, self._cert, channel, uid, _ROLE[publisher], expire, expire)

    def build_rtm(self, ctx: Optional[RequestContext], user_id: str, expire: int, channel: str = "") -> str:
        if channel and self._subscriber_only(ctx):
            return self._rtm_join_only(user_id, expire, channel)
        return _build_rtm(self.app_id, self._cert, user_id, expire, channel)

    def _rtm_join_only(self, user_id: str, expire: int, channel: str) -> str:
        """An RTM token whose stream-channel service carries join only."""
        token = AccessToken(self.app_id, self._cert, expire=expire)
        rtc = ServiceRtc(channel, user_id)
        rtc.add_privilege(RtcPrivilege.JOIN_CHANNEL, expire)
        rtm = ServiceRtm(user_id)
        rtm.add_privilege(RtmPrivilege.LOGIN, expire)
        return token.add_service(rtc).add_service(rtm).build()

    def rtc(self, ctx: Optional[RequestContext], channel: str, uid: Uid, publisher: bool, expire: int) -> str:
        """RTC token; ``expire`` is the token's and every privilege's lifetime."""
        self.check_rtc(ctx, channel, uid, publisher, expire)
        token = self.build_rtc(channel, uid, publisher, expire)
        metrics.LOCAL.token_issued("rtc")
        return token

    def rtm(self, ctx: Optional[RequestContext], user_id: str, expire: int, channel: str = "") -> str:
        """RTM login token; a non-empty ``channel`` adds its stream-channel RTC service."""
        self.check_rtm(ctx, user_id, expire, channel)
        token = self.build_rtm(ctx, user_id, expire, channel)
        metrics.LOCAL.token_issued("rtm")
        return token

    def rte(self, ctx: Optional[RequestContext], channel: str, uid: Uid, publisher: bool, rtm_user: str,
            expire: int) -> tuple[str, str]:
        """The RTC and RTM tokens of ``/rte/``: both checked and built before either counts."""
        self.check_rtc(ctx, channel, uid, publisher, expire)
        self.check_rtm(ctx, rtm_user, expire, channel)
        tokens = (self.build_rtc(channel, uid, publisher, expire),
                  self.build_rtm(ctx, rtm_user, expire, channel))
        metrics.LOCAL.token_issued("rtc")
        metrics.LOCAL.token_issued("rtm")
        return tokens

    def chat_user(self, ctx: Optional[RequestContext], user_id: str, expire: int) -> str:
        if self.checking:
            self.check(ctx, TokenRequest("chat", None, None, (user_id,), False, expire))
        token = _build_chat_user(self.app_id, self._cert, user_id, expire)
        metrics.LOCAL.token_issued("chat")
        return token

    def chat_app(self, ctx: Optional[RequestContext], expire: int) -> str:
        if self.checking:
            self.check(ctx, TokenRequest("chat_app", None, None, (), False, expire))
        token = _build_chat_app(self.app_id, self._cert, expire)
        metrics.LOCAL.token_issued("chat_app")
        return token
