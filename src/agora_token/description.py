"""What a token grants, in one neutral structure for every reader.

:func:`describe_token` parses a ``007`` or ``006`` token into a
:class:`TokenDescription`: version, app id, times, and each service with its
fields and privileges (id, readable name, raw expire, absolute expiry).
The ``agora-token inspect`` command renders it as text; the token service
returns :meth:`TokenDescription.to_json` from ``/verifyToken``.
:meth:`TokenDescription.verify` checks the signature; the *reason* shown
for a failure is left to the caller (a CLI and a service word it differently).

What a privilege's expire of 0 means:

* ``007`` (AccessToken2): expires are seconds after the issue time, and 0
  gives the privilege no limit of its own -- the token's expiry applies, so
  ``expires_at`` is None. Agora's builders use 0 as their default
  (``RtcTokenBuilder.build_token_with_uid(..., privilege_expire=0)`` in
  AgoraIO/Tools, DynamicKey/AgoraDynamicKey/python3/src/RtcTokenBuilder2.py,
  where a privilege "is limited by the token expiration time"), and
  ``FpaTokenBuilder`` grants its only privilege with expire 0 in a token
  documented as "available for 24 hours after generation"
  (AgoraIO/Tools, DynamicKey/AgoraDynamicKey/cpp/src/FpaTokenBuilder.h),
  which would be useless if 0 meant "expired at issue". Agora's agent SDK
  says it outright: "privilege_expire ... 0 = same as token_expire"
  (AgoraIO/agora-agents-python, docs/getting-started/authentication.md).
  (One revision of Agora's TypeScript agent SDK comments that 0 "would
  expire privileges immediately" and substitutes the token expiry; the
  official builders' defaults above contradict that reading.)
* ``006``: expires are absolute unix times and 0 means the privilege never
  expires: "expireTimestamp: The privilege expiration time. The default value
  is 0 (the privilege never expires)." (Agora's "Generate a Token" server
  guide, 2018; its Python page: "Set it as 0 if the privilege never expires.").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any

from . import _backend
from . import _validate as v
from ._layout import LAYOUTS, PERMISSIONS
from .constants import Legacy006Privilege, PermissionType, ResourceType, RtmPrivilege
from .legacy import AccessToken006, verify_006
from .tokens import parse

__all__ = ["PERMISSION_NAMES", "RESOURCE_NAMES", "PrivilegeDescription", "ServiceDescription", "TokenDescription",
           "camel", "describe_token", "iso"]

_RTM_LOGIN_006 = int(Legacy006Privilege.RTM_LOGIN)


def camel(enum_name: str) -> str:
    """``JOIN_CHANNEL`` -> ``joinChannel``."""
    head, *rest = enum_name.lower().split("_")
    return head + "".join(p.capitalize() for p in rest)


def _name(enum: type[IntEnum], value: int) -> str | None:
    try:
        return camel(enum(value).name)
    except ValueError:
        return None


def iso(ts: int | None) -> str | None:
    """Unix seconds -> ISO-8601 UTC (``2025-01-01T12:00:00Z``); None stays None."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class PrivilegeDescription:
    id: int
    #: readable camelCase name (``joinChannel``), None for an id this library does not know
    name: str | None
    #: the raw value: 007 seconds after issue; 006 an absolute unix time
    expire: int
    #: absolute unix time, or None: no limit of its own (expire 0, see the module docstring)
    expires_at: int | None

    @property
    def label(self) -> str:
        return self.name if self.name is not None else str(self.id)


@dataclass(frozen=True)
class ServiceDescription:
    #: the 007 service type; in a 006 token, 1 (RTC privileges) or 2 (RTM login)
    type: int
    name: str
    #: field attribute name (``channel_name``, ``uid``, ...) -> value, in layout
    #: order; for a 006 token only the fields the caller told us
    fields: dict[str, Any]
    privileges: tuple[PrivilegeDescription, ...]

    def json_fields(self, *, raw_uid: bool = False) -> dict[str, Any]:
        """The fields by their JSON names, in layout order: uid "" (any user)
        shown as "0" unless ``raw_uid``; RTM2 permissions readable
        (:data:`RESOURCE_NAMES`, :data:`PERMISSION_NAMES`)."""
        out: dict[str, Any] = {}
        for f in LAYOUTS[self.type].fields:
            if f.name not in self.fields:
                continue
            value = self.fields[f.name]
            if f.kind == PERMISSIONS:
                value = _permissions_readable(value)
            elif f.json_name == "uid" and value == "" and not raw_uid:
                value = "0"  # 0: any user
            out[f.json_name] = value
        return out


@dataclass(frozen=True)
class TokenDescription:
    version: str
    app_id: str
    salt: int
    #: 007: issue time and lifetime; None for 006 (not recorded)
    issue_ts: int | None
    expire: int | None
    #: 007: issue_ts + expire; 006: the earliest non-zero privilege, None if none
    expires_at: int | None
    services: tuple[ServiceDescription, ...]
    #: 006 only: the message timestamp and the CRC-32 of channel name and uid
    ts: int | None = None
    crc_channel_name: int | None = None
    crc_uid: int | None = None
    #: 006 only: the channel name and uid the signature is checked against
    #: (None when the caller did not say)
    signed_channel: str | None = None
    signed_uid: str | None = None
    token: str = field(default="", repr=False)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def verify(self, app_certificate: str) -> bool | None:
        """Signed with ``app_certificate``? None when it cannot be told: a
        006 token whose channel and uid the caller did not give."""
        cert = v.check_certificate(app_certificate)
        if self.version == "007":
            return bool(_backend.verify_007(self.token, cert))
        if self.signed_channel is None or self.signed_uid is None:
            return None
        return verify_006(self.token, cert, self.signed_channel, self.signed_uid)

    def to_json(self, now: float, *, detail: bool = False) -> dict[str, Any]:
        """The ``/verifyToken`` body without ``valid``/``reason``:
        ``{"version", "appId", "issuedAt", "expiresAt", "expired", "services":
        [{"type": "rtc", "channel": ..., "uid": ..., "privileges": {"joinChannel":
        {"expire": 3600, "expiresAt": "...Z" | null}}}]}`` (uid "" shown as "0").
        Every service kind shows all its fields (RTM2: ``permissions``,
        ``{"messageChannels": {"read": [...], "write": [...]}, ...}``).
        ``detail=True`` adds raw numbers (``issueTs``, ``expiresTs``, ids,
        ``typeId``, 006 ``ts`` and CRCs), as the CLI prints."""
        out: dict[str, Any] = {
            "version": self.version, "appId": self.app_id, "issuedAt": iso(self.issue_ts),
            "expiresAt": iso(self.expires_at), "expired": self.expired(now),
        }
        if detail:
            out.update({"issueTs": self.issue_ts, "expire": self.expire, "expiresTs": self.expires_at,
                        "salt": self.salt})
            if self.version == "006":
                out.update({"ts": self.ts, "crcChannelName": self.crc_channel_name, "crcUid": self.crc_uid})
        out["services"] = [_service_json(s, detail) for s in self.services]
        return out


def _service_json(svc: ServiceDescription, detail: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": svc.name}
    if detail:
        entry["typeId"] = svc.type
    entry.update(svc.json_fields())
    privileges: dict[str, Any] = {}
    for p in svc.privileges:
        item: dict[str, Any] = {"expire": p.expire, "expiresAt": iso(p.expires_at)}
        if detail:
            item = {"id": p.id, **item, "expiresTs": p.expires_at}
        privileges[p.label] = item
    entry["privileges"] = privileges
    return entry


#: readable names of RTM2 resource and permission types (as ``POST /token/generate`` takes them)
RESOURCE_NAMES: dict[int, str] = {
    ResourceType.MESSAGE_CHANNEL: "messageChannels", ResourceType.STREAM_CHANNEL: "streamChannels",
    ResourceType.GROUP_CHANNEL: "groupChannels", ResourceType.SERVER_GROUP: "serverGroups",
    ResourceType.USER: "users",
}
assert set(RESOURCE_NAMES) == set(ResourceType)
PERMISSION_NAMES: dict[int, str] = {p: camel(p.name) for p in PermissionType}  # read, write


def _permissions_readable(perms: Any) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for rtype, inner in perms.items():
        rname = RESOURCE_NAMES.get(rtype, f"resource{rtype}")
        out[rname] = {PERMISSION_NAMES.get(p, f"permission{p}"): list(r) for p, r in inner.items()}
    return out


def describe_token(token: str, *, channel: str | None = None,
                   uid: int | str | None = None) -> TokenDescription:
    """Describe a ``007`` or ``006`` token (raises :class:`InvalidTokenError`
    for a malformed one). A 006 token carries only the CRC-32 of the channel
    name and uid it signs: give ``channel`` and ``uid`` when known (for a
    legacy RTM token, ``uid`` alone: the user account) so that the
    description shows them and :meth:`TokenDescription.verify` can check it."""
    parsed = parse(token)
    if isinstance(parsed, AccessToken006):
        return _describe_006(parsed, token, channel, uid)
    services = []
    for svc in parsed.services:
        layout = LAYOUTS[svc.type]
        services.append(ServiceDescription(
            type=int(svc.type), name=layout.name,
            fields={name: getattr(svc, name) for name in layout.field_names},
            privileges=tuple(
                PrivilegeDescription(p, _name(layout.privileges, p), e, parsed.issue_ts + e if e else None)
                for p, e in sorted(svc.privileges.items())),
        ))
    return TokenDescription(
        version="007", app_id=parsed.app_id, salt=parsed.salt, issue_ts=parsed.issue_ts,
        expire=parsed.expire, expires_at=parsed.issue_ts + parsed.expire, services=tuple(services),
        token=token)


def _describe_006(parsed: AccessToken006, token: str, channel: str | None,
                  uid: int | str | None) -> TokenDescription:
    uid_text: str | None = None
    if uid is not None:
        uid_text = v.uid_to_str(uid) if isinstance(uid, int) else ("" if uid == "0" else uid)
    privileges = parsed.privileges
    # The legacy RTM builder signs (channel = user account, uid = ""): for an
    # RTM-only token, the uid alone (the account) is enough to verify it.
    rtm_only = set(privileges) == {_RTM_LOGIN_006}
    signed_channel, signed_uid = channel, uid_text
    if rtm_only and channel is None and uid_text is not None:
        signed_channel, signed_uid = uid_text, ""

    def described(pid: int, name: str | None) -> PrivilegeDescription:
        e = privileges[pid]
        return PrivilegeDescription(pid, name, e, e if e else None)  # 0: never expires

    services = []
    rtc = tuple(described(p, _name(Legacy006Privilege, p)) for p in sorted(privileges) if p != _RTM_LOGIN_006)
    if rtc:
        fields: dict[str, Any] = {}
        if channel is not None:
            fields["channel_name"] = channel
        if uid_text is not None:
            fields["uid"] = uid_text
        services.append(ServiceDescription(1, "rtc", fields, rtc))
    if _RTM_LOGIN_006 in privileges:
        rtm_user = uid_text if rtm_only and channel is None else (
            None if uid_text is None else (uid_text or "0"))
        services.append(ServiceDescription(
            2, "rtm", {} if rtm_user is None else {"user_id": rtm_user},
            (described(_RTM_LOGIN_006, _name(RtmPrivilege, RtmPrivilege.LOGIN)),)))
    limits = [e for e in privileges.values() if e]
    return TokenDescription(
        version="006", app_id=parsed.app_id, salt=parsed.salt, issue_ts=None, expire=None,
        expires_at=min(limits) if limits else None, services=tuple(services), ts=parsed.ts,
        crc_channel_name=parsed.crc_channel_name, crc_uid=parsed.crc_uid,
        signed_channel=signed_channel, signed_uid=signed_uid, token=token)
