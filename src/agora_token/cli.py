"""``agora-token``: build and inspect Agora access tokens from the command line.

Subcommands ``rtc``, ``rtm``, ``chat``, ``rte``, ``rtm2``, ``streaming``,
``fcdn``, ``fpa`` and ``apaas`` (every kind the token service issues) print a
token (or, with ``--json``, a JSON object keyed like the token service's
responses);
``inspect`` shows what a token grants and, with the app certificate, whether
its signature is valid.

Values follow the token service's rules (``POST /getToken``), checked by the
functions the service uses (:mod:`agora_token.rules`): the same values are
accepted and refused, with the same messages naming this command's flags.

Exit codes: 0 success; 1 ``inspect`` found the signature invalid (or an
unexpected internal error); 2 bad usage, malformed input or a value the
rules or the library refuse. Errors are one line on stderr, never a
traceback; a note (``agora-token: note: ...``) says when a value is read in
a way that may surprise (``--uid -1`` is the user account "-1").
Documentation: docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import IO, Any, Callable, NoReturn

from . import __version__, _backend, rules
from . import _messages as M
from . import _validate as v
from .access_token import AccessToken
from .builders import (
    ApaasTokenBuilder,
    RtcTokenBuilder,
    RtmTokenBuilder,
    chat_app_token,
    chat_user_token,
    rtm_token,
)
from .constants import (
    DEFAULT_EXPIRE,
    FPA_EXPIRE,
    MAX_TOKEN_LENGTH,
    FcdnPrivilege,
    FpaPrivilege,
    Role,
    Rtm2Privilege,
    StreamingPrivilege,
)
from .description import PERMISSION_NAMES, RESOURCE_NAMES, TokenDescription, describe_token
from .errors import AgoraTokenError, InvalidTokenError
from .services import Service, ServiceFcdn, ServiceFpa, ServiceRtm2, ServiceStreaming

__all__ = ["humanize_delta", "main", "render_text", "version_text"]

PROG = "agora-token"

EXIT_OK = 0
EXIT_INVALID_SIGNATURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) and never exit the
    interpreter from inside :func:`main`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def version_text() -> str:
    """``agora-token 0.1.0 (backend: cython; sha256: libcrypto, zlib: libz)``."""
    features = ", ".join(f"{k}: {v}" for k, v in _backend.FEATURES.items())
    return f"{PROG} {__version__} (backend: {_backend.BACKEND}; {features})"


# --------------------------------------------------------------- formatting

def humanize_delta(seconds: float) -> str:
    """A duration as people say it, rounded to its last unit: ``45 s``,
    ``10 min`` (also for 599.6 s: a fresh 600 s token), ``3 h``, ``2 h 5 min``,
    ``4 days``, ``2 days 3 h``."""
    s = int(abs(seconds) + 0.5)
    if s < 60:
        return f"{s} s"
    minutes = (s + 30) // 60
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h" if m == 0 else f"{h} h {m} min"
    d, h = divmod((s + 1800) // 3600, 24)
    return f"{d} days" if h == 0 else f"{d} days {h} h"


def relative_expiry(expires_at: int, now: float) -> str:
    delta = expires_at - now
    if delta > 0:
        return f"expires in {humanize_delta(delta)}"
    if delta == 0:
        return "expires now"
    return f"expired {humanize_delta(delta)} ago"


def relative_past(ts: int, now: float) -> str:
    delta = now - ts
    if delta >= 0:
        return f"{humanize_delta(delta)} ago" if delta >= 1 else "just now"
    return f"in {humanize_delta(delta)} (clock skew?)"


def utc_text(ts: int) -> str:
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"unix time {ts}"


def show(value: str) -> str:
    """A token's text field, safe to print on a terminal."""
    if value == "":
        return '""'
    return value if value.isprintable() else repr(value)


# ---------------------------------------------------------------- inspect

def check_signature(desc: TokenDescription, certificate: str | None) -> dict[str, Any]:
    """{"checked", "valid", "reason"} for ``desc`` and this certificate."""
    if certificate is None:
        return {"checked": False, "valid": None,
                "reason": "no certificate given (--app-certificate or APP_CERTIFICATE)"}
    ok = desc.verify(certificate)
    if ok is None:
        return {"checked": False, "valid": None,
                "reason": ("006 tokens sign the channel name and uid but carry only their CRC-32: "
                           "pass --channel and --uid to verify (for an RTM token, --uid alone)")}
    reason = None if ok else "the signature does not match this certificate" + (
        " (or this channel and uid)" if desc.version == "006" else "")
    return {"checked": True, "valid": ok, "reason": reason}


def _field_text(json_name: str, value: Any) -> str:
    if json_name == "uid" and value == "":
        return '"" (0: any user)'
    if isinstance(value, str):
        return show(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=True)
    return str(value)


def render_text(desc: TokenDescription, signature: dict[str, Any], now: float) -> str:
    """The ``inspect`` table."""
    rows: list[tuple[str, str]] = [("version", desc.version), ("app id", show(desc.app_id))]
    if desc.issue_ts is not None and desc.expire is not None and desc.expires_at is not None:
        rows.append(("issued", f"{utc_text(desc.issue_ts)} ({relative_past(desc.issue_ts, now)})"))
        rows.append(("expires", (f"{utc_text(desc.expires_at)} ({relative_expiry(desc.expires_at, now)}; "
                                f"lifetime {humanize_delta(desc.expire)})")))
    else:
        rows.append(("issued", "not recorded in 006 tokens"))
        rows.append(("ts", f"{utc_text(desc.ts or 0)} (message timestamp, normally issue time + 24 h)"))
        if desc.expires_at is None:
            rows.append(("expires", "never (every privilege is 0: no expiry)"))
        else:
            rows.append(("expires", (f"{utc_text(desc.expires_at)} "
                                    f"({relative_expiry(desc.expires_at, now)}; earliest privilege)")))
        rows.append(("crc", f"channel {desc.crc_channel_name}, uid {desc.crc_uid}"))
    rows.append(("salt", str(desc.salt)))
    if not signature["checked"]:
        rows.append(("signature", f"not checked: {signature['reason']}"))
    elif signature["valid"]:
        rows.append(("signature", "valid"))
    else:
        rows.append(("signature", f"INVALID: {signature['reason']}"))
    rows.append(("services", str(len(desc.services))))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]

    for i, svc in enumerate(desc.services, 1):
        kind = f"service type {svc.type}" if desc.version == "007" else "006 privileges"
        lines.append(f"[{i}] {svc.name} ({kind})")
        for key, value in svc.json_fields(raw_uid=True).items():
            lines.append(f"    {key:<12}{_field_text(key, value)}")
        lines.append("    privileges")
        if not svc.privileges:
            lines.append("      (none)")
        labels = [f"{p.name or f'privilege{p.id}'} ({p.id})" for p in svc.privileges]
        pw = max(map(len, labels), default=0)
        for p, label in zip(svc.privileges, labels):
            if desc.version == "006":
                when = "never expires" if p.expires_at is None else (
                    f"until {utc_text(p.expires_at)} ({relative_expiry(p.expires_at, now)})")
            elif p.expires_at is None:
                when = f"{p.expire} s: no limit of its own (the token's expiry applies)"
            else:
                when = f"{p.expire} s: until {utc_text(p.expires_at)} ({relative_expiry(p.expires_at, now)})"
            lines.append(f"      {label:<{pw}}  {when}")
    return "\n".join(lines)


# ---------------------------------------------------------------- commands

def _certificate(args: argparse.Namespace, err: IO[str]) -> str:
    """``--app-certificate`` (with a warning), else ``$APP_CERTIFICATE`` ("" when unset)."""
    if args.app_certificate is None:
        return os.environ.get("APP_CERTIFICATE", "")
    err.write(f"{PROG}: warning: --app-certificate is visible to other users in process "
              "lists and shell history; prefer the APP_CERTIFICATE environment variable\n")
    return str(args.app_certificate)


def _credentials(args: argparse.Namespace, err: IO[str]) -> tuple[str, str]:
    app_id = args.app_id if args.app_id is not None else os.environ.get("APP_ID", "")
    cert = _certificate(args, err)
    if not app_id:
        raise UsageError("no app id: set APP_ID or pass --app-id")
    if not cert:
        raise UsageError("no app certificate: set APP_CERTIFICATE (or pass --app-certificate)")
    return app_id, cert


def _note(err: IO[str], text: str) -> None:
    err.write(f"{PROG}: note: {text}\n")


def _rtc_uid(args: argparse.Namespace, err: IO[str]) -> int | str:
    """``--uid`` read as ``POST /getToken`` reads ``uid``, with a note when
    text that looks like a number is read as a user account."""
    uid = rules.rtc_uid(args.uid, "--uid")
    note = rules.account_note(uid, "--uid")
    if note is not None:
        _note(err, note)
    return uid


def _role(name: str) -> int:
    return int(Role.PUBLISHER if name == "publisher" else Role.SUBSCRIBER)


def _build_rtc(app_id: str, cert: str, channel: str, uid: int | str, role: str, expire: int) -> str:
    if isinstance(uid, int):
        return RtcTokenBuilder.build_token_with_uid(app_id, cert, channel, uid, _role(role), expire, expire)
    return RtcTokenBuilder.build_token_with_user_account(app_id, cert, channel, uid, _role(role),
                                                         expire, expire)


def _emit(args: argparse.Namespace, out: IO[str], tokens: dict[str, str]) -> int:
    if args.json:
        out.write(json.dumps(tokens) + "\n")
    elif len(tokens) == 1:
        out.write(next(iter(tokens.values())) + "\n")
    else:
        width = max(len(k) for k in tokens)
        for k, v in tokens.items():
            out.write(f"{k + ':':<{width + 1}} {v}\n")
    return EXIT_OK


def cmd_rtc(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    channel = rules.required_channel(args.channel, "--channel")
    uid = _rtc_uid(args, err)
    app_id, cert = _credentials(args, err)
    return _emit(args, out, {"rtcToken": _build_rtc(app_id, cert, channel, uid, args.role, args.expire)})


def cmd_rtm(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    channel = rules.optional_channel(args.channel, "--channel")
    user = rules.rtm_user(args.user, "--user")
    app_id, cert = _credentials(args, err)
    return _emit(args, out, {"rtmToken": rtm_token(app_id, cert, user, expire=args.expire, channel=channel)})


def cmd_chat(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    user = rules.chat_user(args.user, "--user")
    app_id, cert = _credentials(args, err)
    if not user:
        token = chat_app_token(app_id, cert, expire=args.expire)
    else:
        token = chat_user_token(app_id, cert, user, expire=args.expire)
    return _emit(args, out, {"chatToken": token})


def cmd_rte(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    channel = rules.required_channel(args.channel, "--channel", "rte")
    uid = _rtc_uid(args, err)
    rtm_user = rules.rte_rtm_user(args.rtm_user, args.uid, uid, "--rtm-user", "--uid")
    app_id, cert = _credentials(args, err)
    rtc = _build_rtc(app_id, cert, channel, uid, args.role, args.expire)
    rtm = RtmTokenBuilder.build_token(app_id, cert, rtm_user, args.expire, channel)
    return _emit(args, out, {"rtcToken": rtc, "rtmToken": rtm})


def _token(app_id: str, cert: str, expire: int, service: Service) -> str:
    return AccessToken(app_id, cert, expire=expire).add_service(service).build()


_RESOURCES = {name: kind for kind, name in RESOURCE_NAMES.items()}
_PERMISSIONS = {name: kind for kind, name in PERMISSION_NAMES.items()}


def _permission(text: str) -> tuple[int, int, list[str]]:
    """``RESOURCE:PERMISSION:NAME[,NAME...]`` (the names may be empty: an empty list)."""
    parts = text.split(":", 2)
    if len(parts) != 3 or parts[0] not in _RESOURCES or parts[1] not in _PERMISSIONS:
        raise UsageError(f"--permission {text[:60]!r}: use RESOURCE:PERMISSION:NAME[,NAME...] with RESOURCE one of "
                         f"{', '.join(_RESOURCES)} and PERMISSION read or write")
    return _RESOURCES[parts[0]], _PERMISSIONS[parts[1]], [n for n in parts[2].split(",") if n]


def cmd_rtm2(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    user = rules.rtm_user(args.user, "--user")
    permissions: dict[int, dict[int, list[str]]] = {}
    for text in args.permission:
        resource, permission, names = _permission(text)
        permissions.setdefault(resource, {}).setdefault(permission, []).extend(names)
    app_id, cert = _credentials(args, err)
    rtm2 = ServiceRtm2(user, permissions)
    rtm2.add_privilege(Rtm2Privilege.LOGIN, args.expire)
    return _emit(args, out, {"rtm2Token": _token(app_id, cert, args.expire, rtm2)})


def _channel_service(args: argparse.Namespace, err: IO[str], make: Callable[[str, str], Service],
                     flags: Sequence[tuple[str, int]]) -> tuple[str, str, Service]:
    service = make(rules.required_channel(args.channel, "--channel", args.command), args.account)
    chosen = [privilege for flag, privilege in flags if getattr(args, flag)]
    if not chosen:
        raise UsageError("no privilege: pass " + " and/or ".join("--" + f.replace("_", "-") for f, _ in flags))
    app_id, cert = _credentials(args, err)
    for privilege in chosen:
        service.add_privilege(privilege, args.expire)
    return app_id, cert, service


def cmd_streaming(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    app_id, cert, svc = _channel_service(args, err, ServiceStreaming, (
        ("mix_stream", StreamingPrivilege.PUBLISH_MIX_STREAM), ("raw_stream", StreamingPrivilege.PUBLISH_RAW_STREAM)))
    return _emit(args, out, {"streamingToken": _token(app_id, cert, args.expire, svc)})


def cmd_fcdn(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    app_id, cert, svc = _channel_service(args, err, ServiceFcdn, (
        ("publish", FcdnPrivilege.PUBLISH), ("play", FcdnPrivilege.PLAY)))
    return _emit(args, out, {"fcdnToken": _token(app_id, cert, args.expire, svc)})


def cmd_fpa(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    app_id, cert = _credentials(args, err)
    fpa = ServiceFpa()
    fpa.add_privilege(FpaPrivilege.LOGIN, 0)  # as Agora's FpaTokenBuilder: the token's expiry applies
    return _emit(args, out, {"fpaToken": _token(app_id, cert, args.expire, fpa)})


def cmd_apaas(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    if args.room is not None and args.user is None:
        raise UsageError("--room needs --user (a room-user token)")
    user = None if args.user is None else v.check_account(args.user, "--user", required=True)
    app_id, cert = _credentials(args, err)
    if args.room is not None and user is not None:
        token = ApaasTokenBuilder.build_room_user_token(app_id, cert, v.check_str(args.room, "--room"), user,
                                                        v.check_i16(args.role, "--role"), args.expire)
    elif user is not None:
        token = ApaasTokenBuilder.build_user_token(app_id, cert, user, args.expire)
    else:
        token = ApaasTokenBuilder.build_app_token(app_id, cert, args.expire)
    return _emit(args, out, {"apaasToken": token})


def _expire(args: argparse.Namespace, err: IO[str]) -> int:
    """``--expire`` read as ``POST /getToken`` reads ``expire``: missing or 0
    is the command's default (a note says so for 0)."""
    default: int = getattr(args, "default_expire", DEFAULT_EXPIRE)
    if args.expire is None:
        return default
    expire = rules.parse_expire(args.expire, "--expire")
    if expire == 0:
        _note(err, f"--expire 0 means the default, {default} s (as POST /getToken reads an expire of 0)")
    return rules.token_expire(expire, "--expire", default)


def _read_token(arg: str, stdin: IO[str]) -> str:
    if arg == "-":
        text = stdin.read(MAX_TOKEN_LENGTH + 16)
    else:
        text = arg
    text = text.strip()
    if not text:
        raise UsageError("no token given (empty input)")
    if len(text) > MAX_TOKEN_LENGTH:
        raise UsageError(M.TOKEN_TOO_LONG)
    return text


def cmd_inspect(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    token = _read_token(args.token, stdin)
    cert = _certificate(args, err) or None
    now = time.time()
    try:
        uid = None if args.uid is None else rules.uid_number(args.uid, "--uid")
        desc = describe_token(token, channel=args.channel, uid=args.uid if uid is None else uid)
    except InvalidTokenError as exc:
        raise UsageError(f"malformed token: {exc}") from None
    sig = check_signature(desc, cert)
    if args.json:
        out.write(json.dumps({**desc.to_json(now, detail=True), "signature": sig}, indent=2,
                             ensure_ascii=True) + "\n")
    else:
        out.write(render_text(desc, sig, now) + "\n")
    return EXIT_INVALID_SIGNATURE if sig["checked"] and not sig["valid"] else EXIT_OK


# ------------------------------------------------------------------ parser

_MAIN_EPILOG = f"""\
examples:
  export APP_ID=970CA35de60c44645bbae8a215061b33 APP_CERTIFICATE=...   # 32 hex digits each
  {PROG} rtc --channel lobby --uid 42                  # RTC publisher token, 1 hour
  {PROG} rtc --channel lobby --uid alice --role subscriber --expire 600
  {PROG} rtm --user alice --channel lobby              # RTM token + stream channel
  {PROG} chat                                          # Chat app token
  {PROG} rte --channel lobby --uid 42 --json           # RTC + RTM tokens
  {PROG} rtm2 --user alice --permission messageChannels:read:lobby
  {PROG} streaming --channel lobby --account 42 --raw-stream
  {PROG} fcdn --channel lobby --account 42 --play
  {PROG} fpa                                           # FPA token, 24 hours
  {PROG} apaas --room class-1 --user alice --role 2    # APaaS room user (+ RTM + Chat)
  {PROG} inspect 007eJxTY...                           # what does this token grant?
  echo "$TOKEN" | {PROG} inspect - --json

credentials come from APP_ID / APP_CERTIFICATE (or --app-id / --app-certificate;
the latter is visible in process lists). Values follow the token service's rules
(POST /getToken). Exit codes: 0 ok, 1 invalid signature (inspect), 2 bad input.
Documentation: docs/cli.md.
"""


def build_parser() -> _Parser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, formatter_class=fmt, epilog=_MAIN_EPILOG,
                     description="Build and inspect Agora access tokens (AccessToken2 007, legacy 006).")
    parser.add_argument("--version", action="version", version=version_text(),
                        help="show the version, the active core and its libraries, and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    creds = _Parser(add_help=False)
    g = creds.add_argument_group("credentials")
    g.add_argument("--app-id", metavar="HEX32", help="Agora app id (default: $APP_ID)")
    g.add_argument("--app-certificate", metavar="HEX32",
                   help="app certificate (default: $APP_CERTIFICATE; the flag is visible in process lists)")
    common = _Parser(add_help=False)
    common.add_argument("--expire", metavar="SECONDS",
                        help=f"token and privilege lifetime in seconds, 0..4294967295 (default and 0: "
                             f"{DEFAULT_EXPIRE})")
    common.add_argument("--json", action="store_true", help="print JSON, keyed like the token service")

    def add(name: str, help_text: str, epilog: str, parents: Sequence[_Parser]) -> _Parser:
        p: _Parser = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                    formatter_class=fmt, parents=list(parents))
        return p

    role_help = "RTC role: publisher (join + publish, the default) or subscriber (join only)"
    uid_help = ("plain decimal digits: a numeric uid (0 = any user, max 4294967295); anything else "
                "(alice, -1): a user account, at most 255 bytes")
    channel_help = "channel name (not empty, at most 64 bytes)"

    p = add("rtc", "Build an RTC (video/voice) token for a channel and a uid.",
            f"examples:\n  {PROG} rtc --channel lobby --uid 42\n"
            f"  {PROG} rtc --channel lobby --uid alice --role subscriber --expire 600\n"
            f"  {PROG} rtc --channel lobby --uid 0 --json      # any user\n", [creds, common])
    p.add_argument("--channel", required=True, help=channel_help)
    p.add_argument("--uid", required=True, help=uid_help)
    p.add_argument("--role", choices=("publisher", "subscriber"), default="publisher", help=role_help)
    p.set_defaults(func=cmd_rtc)

    p = add("rtm", "Build an RTM (signaling) token for a user.",
            f"examples:\n  {PROG} rtm --user alice\n"
            f"  {PROG} rtm --user alice --channel lobby   # adds the stream-channel RTC service\n",
            [creds, common])
    p.add_argument("--user", required=True, help="RTM user id (not empty, not 0)")
    p.add_argument("--channel", help="optional stream channel ('*' allowed): adds RTC join + publish-data")
    p.set_defaults(func=cmd_rtm)

    p = add("chat", "Build a Chat token: a user token with --user, else an app token.",
            f"examples:\n  {PROG} chat --user alice\n  {PROG} chat              # app (administrator) token\n",
            [creds, common])
    p.add_argument("--user", help="chat user id (omit it, or give an empty one, for an app token)")
    p.set_defaults(func=cmd_chat)

    p = add("rte", "Build an RTC token and an RTM token (with the channel's stream service) together.",
            f"examples:\n  {PROG} rte --channel lobby --uid 42\n"
            f"  {PROG} rte --channel lobby --uid 42 --rtm-user alice --json\n", [creds, common])
    p.add_argument("--channel", required=True, help=channel_help)
    p.add_argument("--uid", required=True, help=uid_help)
    p.add_argument("--rtm-user", help="RTM user id (default: --uid as written; not empty, not 0)")
    p.add_argument("--role", choices=("publisher", "subscriber"), default="publisher", help=role_help)
    p.set_defaults(func=cmd_rte)

    p = add("rtm2", "Build an RTM token with resource permissions (RTM2, service type 8).",
            f"examples:\n  {PROG} rtm2 --user alice\n"
            f"  {PROG} rtm2 --user alice --permission messageChannels:read:lobby,news "
            "--permission users:write:bob\n"
            f"  {PROG} rtm2 --user alice --permission streamChannels:write:   # an empty list\n",
            [creds, common])
    p.add_argument("--user", required=True, help="RTM user id (not empty, not 0)")
    p.add_argument("--permission", action="append", default=[], metavar="RESOURCE:PERMISSION:NAMES",
                   help=f"grant PERMISSION (read, write) on the comma-separated NAMES of RESOURCE "
                        f"({', '.join(RESOURCE_NAMES.values())}); repeatable")
    p.set_defaults(func=cmd_rtm2)

    def channel_account(p: _Parser) -> None:
        p.add_argument("--channel", required=True, help=channel_help)
        p.add_argument("--account", required=True, help="uid or user account, as it goes into the token")

    p = add("streaming", "Build a media push (Streaming) token for a channel and an account.",
            f"examples:\n  {PROG} streaming --channel lobby --account 42 --mix-stream --raw-stream\n",
            [creds, common])
    channel_account(p)
    p.add_argument("--mix-stream", action="store_true", help="privilege publishMixStream")
    p.add_argument("--raw-stream", action="store_true", help="privilege publishRawStream")
    p.set_defaults(func=cmd_streaming)

    p = add("fcdn", "Build a Fusion CDN token for a channel and an account.",
            f"examples:\n  {PROG} fcdn --channel lobby --account 42 --publish --play\n", [creds, common])
    channel_account(p)
    p.add_argument("--publish", action="store_true", help="privilege publish")
    p.add_argument("--play", action="store_true", help="privilege play")
    p.set_defaults(func=cmd_fcdn)

    p = add("fpa", "Build an FPA (Fast Packet Acceleration) token (login, no limit of its own).",
            f"examples:\n  {PROG} fpa\n  {PROG} fpa --expire 3600\n", [creds])
    # its own --expire: Agora's FpaTokenBuilder issues FPA tokens for 24 hours
    p.add_argument("--expire", metavar="SECONDS",
                   help=f"token lifetime in seconds, 0..4294967295 (default and 0: {FPA_EXPIRE})")
    p.add_argument("--json", action="store_true", help="print JSON, keyed like the token service")
    p.set_defaults(func=cmd_fpa, default_expire=FPA_EXPIRE)

    p = add("apaas", "Build an APaaS (Flexible Classroom) token: a room-user token with --room and --user "
            "(with RTM and Chat for the user, as Agora's builder), a user token with --user, else an app token.",
            f"examples:\n  {PROG} apaas --room class-1 --user alice --role 2\n  {PROG} apaas --user alice\n"
            f"  {PROG} apaas                    # app token\n", [creds, common])
    p.add_argument("--room", help="room uuid (a room-user token)")
    p.add_argument("--user", help="user uuid")
    p.add_argument("--role", type=int, default=-1, help="the user's role in the room, -32768..32767 (default: -1)")
    p.set_defaults(func=cmd_apaas)

    p = add("inspect", "Show what a token grants and, with the certificate, whether its signature is valid.",
            f"examples:\n  {PROG} inspect 007eJxTY...\n"
            f"  echo \"$TOKEN\" | APP_CERTIFICATE=... {PROG} inspect -\n"
            f"  {PROG} inspect 006... --channel lobby --uid 42   # 006 needs channel and uid to verify\n"
            f"  {PROG} inspect \"$TOKEN\" --json\n\n"
            "The certificate comes from --app-certificate or $APP_CERTIFICATE. Exit code 1 when\n"
            "it was checked and the signature is invalid.\n", [])
    p.add_argument("token", metavar="TOKEN", help="the token, or - to read it from stdin")
    p.add_argument("--app-certificate", metavar="HEX32",
                   help="check the signature with this certificate (default: $APP_CERTIFICATE)")
    p.add_argument("--channel", help="channel name (verifying 006 tokens)")
    p.add_argument("--uid", help="uid or user account (verifying 006 tokens)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=None)
    return parser


def main(argv: Sequence[str] | None = None, *, stdin: IO[str] | None = None,
         stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    inp = stdin if stdin is not None else sys.stdin
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.command is None:
            parser.print_help(err)
            return EXIT_USAGE
        if args.command == "inspect":
            return cmd_inspect(args, out, err, inp)
        func: Callable[[argparse.Namespace, IO[str], IO[str]], int] = args.func
        args.expire = _expire(args, err)
        return func(args, out, err)
    except UsageError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_USAGE
    except AgoraTokenError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - never a traceback
        err.write(f"{PROG}: internal error: {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
