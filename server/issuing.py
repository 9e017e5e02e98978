"""The one place the service decides and signs tokens.

Every token route parses its input into one :class:`server.policy.TokenRequest`
(the tokens wanted, each service with its channel, user and privileges);
:meth:`Issuer.admit` checks it whatever route it came by, and
:meth:`Issuer.sign` signs it:

1. ``admit``: every token's lifetime and privileges within ``MAX_EXPIRE``
   and every channel by the one channel rule (:func:`server.policy.check_channel`:
   Agora's 64 bytes, then ``CHANNEL_PATTERN``), both 400; then, with
   authentication on, the caller's claims (403, :func:`server.auth.authorize`).
   A request that did not pass the guard (a route registered without
   ``guarded=True``) gets no token (401): the issuing code fails closed. A
   JWT caller limited to ``role: "subscriber"`` gets no publish privilege by
   any route: a service that marks its publish privileges optional (the
   stream channel of the original routes' RTM tokens) loses them (a
   deliberate difference from the original, which applies only under JWT
   role limits); any other publish privilege is refused (403).
2. ``sign``: one AccessToken2 per token, each grant packed as the library
   packs its service classes; every token of the request is built before
   any is counted.

A channel over 64 bytes raises :class:`agora_token.InvalidParameterError`
from ``admit`` (the library's check and message), as a value the library
refuses does from ``sign``: the handler answers 400.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from agora_token import _backend
from agora_token._layout import LAYOUTS
from agora_token._salt import new_salt
from agora_token._validate import check_account, check_permissions, uid_to_str
from agora_token.constants import DEFAULT_EXPIRE, ServiceType

from . import audit, metrics, tracing
from .auth import Caller, authorize
from .config import Settings
from .policy import PolicyViolation, ServiceGrant, TokenRequest, TokenSpec, check_policy
from .responses import IssueDenied
from .state import RequestContext

__all__ = ["DEFAULT_EXPIRE", "Issuer", "core_service"]

log = logging.getLogger("server.issuing")

def _user(grant: ServiceGrant) -> str:
    """The user field as packed: a str as it is (held to Agora's account
    limit when the grant says so), a numeric uid as its digits (0: "", any user)."""
    user = grant.user
    if type(user) is str:
        return user if grant.checked_as is None else check_account(user, grant.checked_as)
    return "" if user is None else uid_to_str(user)


#: service type -> the fields the core packs after the privileges (``agora_token._layout``)
_FIELDS: dict[int, Callable[[ServiceGrant], tuple[Any, ...]]] = {
    ServiceType.RTC: lambda g: (g.channel or "", _user(g)),
    ServiceType.RTM: lambda g: (_user(g),),
    ServiceType.STREAMING: lambda g: (g.channel or "", _user(g)),
    ServiceType.FPA: lambda g: (),
    ServiceType.CHAT: lambda g: (_user(g),),
    ServiceType.FCDN: lambda g: (g.channel or "", _user(g)),
    ServiceType.APAAS: lambda g: (g.room, _user(g), g.role),
    ServiceType.RTM2: lambda g: (_user(g), check_permissions(g.permissions)),
}
assert set(_FIELDS) == set(LAYOUTS)


def core_service(grant: ServiceGrant) -> tuple[Any, ...]:
    """``grant`` as the core's service tuple ``(type, privileges, *fields)``,
    the form :class:`agora_token.AccessToken` hands the core (the core checks
    every value's type and range as it packs)."""
    return (int(grant.type), grant.privileges, *_FIELDS[grant.type](grant))


def metric_kind(token: TokenSpec) -> str:
    """The ``tokens_issued_total`` label of a token: its first service's type."""
    return LAYOUTS[token.services[0].type].name


class Issuer:
    def __init__(self, settings: Settings) -> None:
        self.app_id = settings.app_id
        self._cert = settings.app_certificate
        self.policy = settings.policy
        self.auth_enabled = settings.auth.enabled
        self.allow_any_uid = settings.auth.jwt is not None and settings.auth.jwt.allow_any_uid

    def admit(self, ctx: Optional[RequestContext], req: TokenRequest) -> TokenRequest:
        """The one policy check of every token route: the request to sign
        (for a subscriber-only caller, without its optional publish
        privileges), or :class:`IssueDenied`."""
        violation: Optional[PolicyViolation] = check_policy(self.policy, req, DEFAULT_EXPIRE)
        if violation is None and self.auth_enabled:
            caller: Optional[Caller] = ctx.caller if ctx is not None else None
            if caller is None:  # fail closed: this route bypassed the guard
                log.error("a token was requested on a route without authentication; refusing")
                audit.denied(ctx, 401, "missing_credentials")
                raise IssueDenied(401, "authentication required", {"WWW-Authenticate": "Bearer"},
                                  "missing_credentials")
            if caller.subscriber_only:
                req = req.for_subscriber()
            violation = authorize(caller, req, self.allow_any_uid)
            if violation is not None:
                metrics.LOCAL.auth_failure(violation.reason)
        if violation is not None:
            audit.denied(ctx, violation.status, violation.reason)
            raise IssueDenied(violation.status, violation.message, reason=violation.reason)
        return req

    def build(self, token: TokenSpec) -> str:
        """One token, signed now with a fresh salt, by the active core (as
        the library's builders do: a token costs no more by this route)."""
        return _backend.build_007(self.app_id, self._cert, int(time.time()), token.expire, new_salt(),
                         [core_service(g) for g in token.services])

    def sign(self, req: TokenRequest, ctx: Optional[RequestContext] = None) -> list[tuple[str, str]]:
        """Every token of an admitted request, as (answer key, token); each
        is counted once all are built."""
        tokens = [(token.key, self.build(token)) for token in req.tokens]
        for token in req.tokens:
            metrics.LOCAL.token_issued(metric_kind(token))
        if audit.TRAIL is not None:
            audit.TRAIL.issued(ctx, [t for _, t in tokens])
        if tracing.TRACER is not None:
            tracing.TRACER.issued(req)
        return tokens

    def issue(self, ctx: Optional[RequestContext], req: TokenRequest) -> list[tuple[str, str]]:
        """:meth:`admit`, then :meth:`sign`."""
        return self.sign(self.admit(ctx, req), ctx)
