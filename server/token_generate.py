"""``POST /token/generate``: the request of Agora's reference token server
(``DynamicKey/AgoraDynamicKey/go/docker/server.go`` in AgoraIO/Tools), parsed
into one :class:`server.policy.TokenRequest` (``shared/spec/http-api.md``).

One token, its services added in the reference's order (RTC, RTM, FPA, Chat
user, Chat app, APaaS user, APaaS app), then this service's extensions
(RTM2 with permissions, Streaming, FCDN, APaaS room user). Fields are
optional; a JSON ``null`` is an absent field, as in the reference (Go's
decoder); unknown fields are ignored; a field of the wrong JSON type, a
number out of range or a fraction is refused (``code`` -1). No service
enabled: ``code`` -2, ``"no service added"``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from agora_token import constants as K
from agora_token import rules
from agora_token.description import PERMISSION_NAMES, RESOURCE_NAMES

from .policy import RTC_JOIN, RTC_PUBLISH, ServiceGrant, TokenRequest, TokenSpec

__all__ = ["CODE_BAD_REQUEST", "CODE_NOT_BUILT", "GenerateError", "RESOURCES", "parse_generate"]

#: ``code`` of a request the service cannot read; of no service / a token that cannot be built
CODE_BAD_REQUEST = -1
CODE_NOT_BUILT = -2
NO_SERVICE = "no service added"
#: the reference's RTC role that publishes
ROLE_PUBLISHER = 1
#: Go's ``int``: the range of ``serviceRtc.role``
_INT64 = (-(1 << 63), (1 << 63) - 1)

#: ``serviceRtm2.permissions`` keys -> resource type; ``read`` / ``write`` -> permission type (the
#: names ``/verifyToken`` and ``agora-token inspect`` show)
RESOURCES = {name: int(kind) for kind, name in RESOURCE_NAMES.items()}
PERMISSIONS = {name: int(kind) for kind, name in PERMISSION_NAMES.items()}

# privilege ids as plain ints (the core packs them fastest)
_STREAMING_FLAGS = ((int(K.StreamingPrivilege.PUBLISH_MIX_STREAM), "enableMixStream"),
                    (int(K.StreamingPrivilege.PUBLISH_RAW_STREAM), "enableRawStream"))
_FCDN_FLAGS = ((int(K.FcdnPrivilege.PUBLISH), "enablePublish"), (int(K.FcdnPrivilege.PLAY), "enablePlay"))

_EXAMPLE = '{"channelName": "test", "uid": "123", "tokenExpireTs": 3600, "serviceRtc": {"enable": true, "role": 1}}'


class GenerateError(Exception):
    """A request answered ``400`` with ``{"code": code, "message": message, "data": ""}``."""

    def __init__(self, message: str, code: int = CODE_BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _type_name(value: Any) -> str:
    if value is True or value is False:
        return "a boolean"
    if type(value) is int:
        return "an integer"
    if type(value) is float:
        return "a number with a fraction or an exponent"
    if type(value) is str:
        return "a string"
    if type(value) is list:
        return "an array"
    return "an object"


def _get(obj: dict[str, Any], key: str, kind: type, what: str, where: str = "") -> Any:
    """``obj[key]`` when it is of JSON type ``kind``; None when absent or null."""
    value = obj.get(key)
    if value is None or type(value) is kind:
        return value
    raise GenerateError(f"{where}{key} must be {what}, not {_type_name(value)}")


def _flag(obj: dict[str, Any], key: str, where: str) -> bool:
    return bool(_get(obj, key, bool, "true or false", where))


def _text(obj: dict[str, Any], key: str, where: str = "") -> str:
    value: Optional[str] = _get(obj, key, str, "a string", where)
    return value or ""


def _int(obj: dict[str, Any], key: str, lo: int, hi: int, where: str = "") -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if type(value) is not int:
        raise GenerateError(f"{where}{key} must be an integer in {lo}..{hi}, not {_type_name(value)}")
    if not lo <= value <= hi:
        raise GenerateError(f"{where}{key} must be an integer in {lo}..{hi}, got {value}")
    return value


def _seconds(data: dict[str, Any], key: str) -> int:
    """A lifetime (``tokenExpireTs``, ``privilegeExpireTs``): the service's
    one rule and message for lifetimes (:func:`agora_token.rules.check_expire`);
    absent: 0, as the reference."""
    value = data.get(key)
    if value is None:
        return 0
    try:
        return rules.check_expire(value, key)
    except rules.RequestError as exc:
        raise GenerateError(str(exc)) from None


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value: Optional[dict[str, Any]] = _get(data, key, dict, "an object")
    return value or {}


def _apaas_section(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``serviceApaas``, or ``serviceEducation`` (its name in an older reference)."""
    apaas, education = data.get("serviceApaas"), data.get("serviceEducation")
    if apaas is not None and education is not None:
        raise GenerateError("send serviceApaas or serviceEducation (another name for it), not both")
    key = "serviceEducation" if education is not None else "serviceApaas"
    return key, _section(data, key)


def _permissions(section: dict[str, Any]) -> dict[int, dict[int, list[str]]]:
    where = "serviceRtm2.permissions"
    perms: Optional[dict[str, Any]] = _get(section, "permissions", dict, "an object", "serviceRtm2.")
    out: dict[int, dict[int, list[str]]] = {}
    for name, inner in (perms or {}).items():
        resource = RESOURCES.get(name)
        if resource is None:
            raise GenerateError(f"{where} has an unknown resource type {name[:40]!r}: use "
                                + ", ".join(RESOURCES))
        if inner is None:
            continue
        if type(inner) is not dict:
            raise GenerateError(f"{where}.{name} must be an object, not {_type_name(inner)}")
        kinds: dict[int, list[str]] = {}
        for pname, resources in inner.items():
            permission = PERMISSIONS.get(pname)
            if permission is None:
                raise GenerateError(f"{where}.{name} has an unknown permission {pname[:40]!r}: use read or write")
            if resources is None:
                continue
            if type(resources) is not list or not all(type(r) is str for r in resources):
                raise GenerateError(f"{where}.{name}.{pname} must be an array of strings")
            kinds[permission] = list(resources)
        out[resource] = kinds
    return out


def parse_generate(body: bytes) -> TokenRequest:
    """The request, or :class:`GenerateError`."""
    if not body.strip():
        raise GenerateError(f"request body must be a JSON object, e.g. {_EXAMPLE}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise GenerateError(f"request body is not valid JSON: send a JSON object, e.g. {_EXAMPLE}") from None
    if data is None:  # the reference decodes null into an empty request
        raise GenerateError(NO_SERVICE, CODE_NOT_BUILT)
    if type(data) is not dict:
        raise GenerateError(f"request body must be a JSON object, not {_type_name(data)}")
    channel = _text(data, "channelName")
    uid = _text(data, "uid")
    token_expire = _seconds(data, "tokenExpireTs")
    privilege_expire = _seconds(data, "privilegeExpireTs")
    rtc, rtm, fpa = _section(data, "serviceRtc"), _section(data, "serviceRtm"), _section(data, "serviceFpa")
    chat = _section(data, "serviceChat")
    apaas_key, apaas = _apaas_section(data)
    rtm2, streaming, fcdn = (_section(data, "serviceRtm2"), _section(data, "serviceStreaming"),
                             _section(data, "serviceFcdn"))
    at = apaas_key + "."
    rtc_role = _int(rtc, "role", *_INT64, where="serviceRtc.")
    chat_user = _text(chat, "userUuid", "serviceChat.")
    apaas_user, room = _text(apaas, "userUuid", at), _text(apaas, "roomUuid", at)
    apaas_role = _int(apaas, "role", K.I16_MIN, K.I16_MAX, at)
    permissions = _permissions(rtm2)
    grants: list[ServiceGrant] = []
    if _flag(rtc, "enable", "serviceRtc."):
        privileges = RTC_PUBLISH if rtc_role == ROLE_PUBLISHER else RTC_JOIN
        grants.append(ServiceGrant(K.ServiceType.RTC, dict.fromkeys(privileges, privilege_expire), channel, uid))
    if _flag(rtm, "enable", "serviceRtm."):
        grants.append(ServiceGrant(K.ServiceType.RTM, {int(K.RtmPrivilege.LOGIN): token_expire}, user=uid))
    if _flag(fpa, "enable", "serviceFpa."):
        grants.append(ServiceGrant(K.ServiceType.FPA, {int(K.FpaPrivilege.LOGIN): 0}))
    if _flag(chat, "enableUser", "serviceChat."):
        grants.append(ServiceGrant(K.ServiceType.CHAT, {int(K.ChatPrivilege.USER): token_expire}, user=chat_user))
    if _flag(chat, "enableApp", "serviceChat."):
        grants.append(ServiceGrant(K.ServiceType.CHAT, {int(K.ChatPrivilege.APP): token_expire}))
    if _flag(apaas, "enableUser", at):
        grants.append(ServiceGrant(K.ServiceType.APAAS, {int(K.ApaasPrivilege.USER): token_expire}, user=apaas_user))
    if _flag(apaas, "enableApp", at):
        grants.append(ServiceGrant(K.ServiceType.APAAS, {int(K.ApaasPrivilege.APP): token_expire}))
    # the extensions, after the reference's services
    if _flag(rtm2, "enable", "serviceRtm2."):
        grants.append(ServiceGrant(K.ServiceType.RTM2, {int(K.Rtm2Privilege.LOGIN): token_expire}, user=uid,
                                   permissions=permissions))
    stream_privileges = [p for p, key in _STREAMING_FLAGS
                         if _flag(streaming, key, "serviceStreaming.")]
    if stream_privileges:
        grants.append(ServiceGrant(K.ServiceType.STREAMING, dict.fromkeys(stream_privileges, privilege_expire),
                                   channel, uid))
    fcdn_privileges = [p for p, key in _FCDN_FLAGS
                       if _flag(fcdn, key, "serviceFcdn.")]
    if fcdn_privileges:
        grants.append(ServiceGrant(K.ServiceType.FCDN, dict.fromkeys(fcdn_privileges, privilege_expire), channel, uid))
    if _flag(apaas, "enableRoomUser", at):
        grants.append(ServiceGrant(K.ServiceType.APAAS, {int(K.ApaasPrivilege.ROOM_USER): token_expire},
                                   user=apaas_user, room=room, role=apaas_role))
    if not grants:
        raise GenerateError(NO_SERVICE, CODE_NOT_BUILT)
    return TokenRequest((TokenSpec("token", token_expire, tuple(grants)),))
