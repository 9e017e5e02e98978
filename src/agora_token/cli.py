"""``agora-token``: build and inspect Agora access tokens from the command line.

Subcommands ``rtc``, ``rtm``, ``chat`` and ``rte`` print a token (or, with
``--json``, a JSON object keyed like the token service's responses);
``inspect`` shows what a token grants and, with the app certificate, whether
its signature is valid.

Exit codes: 0 success; 1 ``inspect`` found the signature invalid (or an
unexpected internal error); 2 bad usage, malformed input or a value the
library rejects. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import IO, Any, Callable, NoReturn, Optional, Sequence, Union

from . import __version__
from .builders import RtcTokenBuilder, RtmTokenBuilder, chat_app_token, chat_user_token, rtm_token
from .constants import (
    MAX_TOKEN_LENGTH,
    ApaasPrivilege,
    ChatPrivilege,
    FcdnPrivilege,
    FpaPrivilege,
    Legacy006Privilege,
    PermissionType,
    ResourceType,
    Role,
    Rtm2Privilege,
    RtcPrivilege,
    RtmPrivilege,
    ServiceType,
    StreamingPrivilege,
)
from .errors import AgoraTokenError, InvalidTokenError
from ._validate import parse_uid_text

__all__ = ["main", "describe_token", "humanize_delta"]

PROG = "agora-token"

EXIT_OK = 0
EXIT_INVALID_SIGNATURE = 1
EXIT_USAGE = 2

_PRIVILEGE_ENUMS: dict[int, Any] = {
    ServiceType.RTC: RtcPrivilege,
    ServiceType.RTM: RtmPrivilege,
    ServiceType.STREAMING: StreamingPrivilege,
    ServiceType.FPA: FpaPrivilege,
    ServiceType.CHAT: ChatPrivilege,
    ServiceType.FCDN: FcdnPrivilege,
    ServiceType.APAAS: ApaasPrivilege,
    ServiceType.RTM2: Rtm2Privilege,
}

# Service attribute -> field name shown (camelCase, like the service's JSON).
_FIELD_NAMES = {
    "channel_name": "channel",
    "uid": "uid",
    "user_id": "userId",
    "account": "account",
    "room_uuid": "roomUuid",
    "user_uuid": "userUuid",
    "role": "role",
    "permissions": "permissions",
}


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump) and never exit the
    interpreter from inside :func:`main`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------- formatting

def camel(enum_name: str) -> str:
    """``JOIN_CHANNEL`` -> ``joinChannel``."""
    head, *rest = enum_name.lower().split("_")
    return head + "".join(p.capitalize() for p in rest)


def humanize_delta(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``59 min``, ``3 h``, ``2 h 5 min``, ``4 days``."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 48 * 3600:
        h, m = divmod(s // 60, 60)
        return f"{h} h" if m == 0 else f"{h} h {m} min"
    d, rem = divmod(s, 86400)
    h = rem // 3600
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


def iso(ts: int) -> Optional[str]:
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def show(value: str) -> str:
    """A token's text field, safe to print on a terminal."""
    if value == "":
        return '""'
    return value if value.isprintable() else repr(value)


def privilege_name(service_type: int, privilege: int) -> str:
    enum = _PRIVILEGE_ENUMS.get(service_type)
    try:
        return camel(enum(privilege).name) if enum is not None else f"privilege{privilege}"
    except ValueError:
        return f"privilege{privilege}"


def service_name(service_type: int) -> str:
    try:
        return ServiceType(service_type).name.lower()
    except ValueError:
        return f"service{service_type}"


def _permissions_readable(perms: Any) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for rtype, inner in perms.items():
        try:
            rname = camel(ResourceType(rtype).name)
        except ValueError:
            rname = f"resource{rtype}"
        out[rname] = {}
        for ptype, resources in inner.items():
            try:
                pname = camel(PermissionType(ptype).name)
            except ValueError:
                pname = f"permission{ptype}"
            out[rname][pname] = list(resources)
    return out


# ---------------------------------------------------------------- describe

def describe_token(token: str, certificate: Optional[str] = None, *,
                   channel: Optional[str] = None, uid: Optional[str] = None,
                   now: Optional[float] = None) -> dict[str, Any]:
    """A JSON-ready description of ``token`` (raises :class:`AgoraTokenError`
    for a malformed token). With ``certificate``, ``signature.valid`` says
    whether it checks out (006 tokens also need ``channel`` and ``uid``)."""
    from .access_token import parse, verify

    t = now if now is not None else time.time()
    parsed = parse(token)
    info: dict[str, Any] = {"version": parsed.version, "appId": parsed.app_id}
    services: list[dict[str, Any]] = []
    if parsed.version == "007":
        expires_at = parsed.issue_ts + parsed.expire
        info.update({
            "issuedAt": iso(parsed.issue_ts), "issueTs": parsed.issue_ts,
            "expire": parsed.expire,
            "expiresAt": iso(expires_at), "expiresTs": expires_at,
            "expired": expires_at <= t, "salt": parsed.salt,
        })
        for svc in parsed.services:
            entry: dict[str, Any] = {"type": service_name(svc.type), "typeId": int(svc.type)}
            for attr in svc.field_names:
                value = getattr(svc, attr)
                if attr == "permissions":
                    value = _permissions_readable(value)
                entry[_FIELD_NAMES.get(attr, attr)] = value
            entry["privileges"] = {
                privilege_name(svc.type, p): {
                    "id": p, "expire": e,
                    "expiresAt": iso(parsed.issue_ts + e), "expiresTs": parsed.issue_ts + e,
                }
                for p, e in sorted(svc.privileges.items())
            }
            services.append(entry)
    else:  # legacy 006: privilege values are absolute unix times, 0 = never
        info.update({
            "issuedAt": None, "ts": parsed.ts, "tsAt": iso(parsed.ts), "salt": parsed.salt,
            "crcChannelName": parsed.crc_channel_name, "crcUid": parsed.crc_uid,
        })
        privileges: dict[str, Any] = {}
        for p, e in sorted(parsed.privileges.items()):
            try:
                name = camel(Legacy006Privilege(p).name)
            except ValueError:
                name = f"privilege{p}"
            privileges[name] = {"id": p, "expiresTs": e, "expiresAt": iso(e) if e else None,
                                "expired": bool(e) and e <= t}
        finite = [e for e in parsed.privileges.values() if e]
        expires_ts = min(finite) if finite else None
        info.update({
            "expiresAt": iso(expires_ts) if expires_ts is not None else None,
            "expiresTs": expires_ts,
            "expired": expires_ts is not None and expires_ts <= t,
        })
        services.append({"type": "legacy006", "privileges": privileges})
    info["services"] = services

    signature: dict[str, Any] = {"checked": False, "valid": None, "reason": None}
    if certificate is None:
        signature["reason"] = "no certificate given (--app-certificate or APP_CERTIFICATE)"
    elif parsed.version == "006" and (channel is None or uid is None):
        signature["reason"] = ("006 tokens sign the channel name and uid but carry only their "
                               "CRC-32: pass --channel and --uid to verify")
    else:
        uid_value: Union[int, str, None] = uid
        if parsed.version == "006" and uid is not None:
            number = parse_uid_text(uid)
            uid_value = number if number is not None else uid
        ok = verify(token, certificate, channel_name=channel, uid=uid_value)
        signature.update({"checked": True, "valid": ok,
                          "reason": None if ok else "the signature does not match this certificate"
                          + (" (or this channel and uid)" if parsed.version == "006" else "")})
    info["signature"] = signature
    return info


def render_table(info: dict[str, Any], now: float) -> str:
    rows: list[tuple[str, str]] = [("version", info["version"]), ("app id", show(info["appId"]))]
    if info["version"] == "007":
        rows.append(("issued", f"{utc_text(info['issueTs'])} ({relative_past(info['issueTs'], now)})"))
        rows.append(("expires", f"{utc_text(info['expiresTs'])} "
                                f"({relative_expiry(info['expiresTs'], now)}; lifetime "
                                f"{humanize_delta(info['expire'])})"))
    else:
        rows.append(("issued", "not recorded in 006 tokens"))
        rows.append(("ts", f"{utc_text(info['ts'])} (message timestamp, normally issue time + 24 h)"))
        if info["expiresTs"] is None:
            rows.append(("expires", "never (every privilege is 0 = no expiry)"))
        else:
            rows.append(("expires", f"{utc_text(info['expiresTs'])} "
                                    f"({relative_expiry(info['expiresTs'], now)}; earliest privilege)"))
        rows.append(("crc", f"channel {info['crcChannelName']}, uid {info['crcUid']}"))
    rows.append(("salt", str(info["salt"])))
    sig = info["signature"]
    if not sig["checked"]:
        rows.append(("signature", f"not checked: {sig['reason']}"))
    elif sig["valid"]:
        rows.append(("signature", "valid"))
    else:
        rows.append(("signature", f"INVALID: {sig['reason']}"))
    rows.append(("services", str(len(info["services"]))))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]

    for i, svc in enumerate(info["services"], 1):
        if svc["type"] == "legacy006":
            lines.append(f"[{i}] legacy 006 privileges")
        else:
            lines.append(f"[{i}] {svc['type']} (service type {svc['typeId']})")
        fields = [(k, v) for k, v in svc.items() if k not in ("type", "typeId", "privileges")]
        for k, v in fields:
            if k == "uid" and v == "":
                text = '"" (0: any user)'
            elif isinstance(v, str):
                text = show(v)
            elif isinstance(v, dict):
                text = json.dumps(v, ensure_ascii=True)
            else:
                text = str(v)
            lines.append(f"    {k:<12}{text}")
        lines.append("    privileges")
        privs = svc["privileges"]
        if not privs:
            lines.append("      (none)")
        pw = max((len(f"{n} ({p['id']})") for n, p in privs.items()), default=0)
        for name, p in privs.items():
            label = f"{name} ({p['id']})"
            if svc["type"] == "legacy006":
                if p["expiresTs"] == 0:
                    when = "never expires"
                else:
                    when = f"until {utc_text(p['expiresTs'])} ({relative_expiry(p['expiresTs'], now)})"
            else:
                when = (f"{p['expire']} s: until {utc_text(p['expiresTs'])} "
                        f"({relative_expiry(p['expiresTs'], now)})")
            lines.append(f"      {label:<{pw}}  {when}")
    return "\n".join(lines)


# ---------------------------------------------------------------- commands

def _credentials(args: argparse.Namespace, err: IO[str]) -> tuple[str, str]:
    app_id = args.app_id if args.app_id is not None else os.environ.get("APP_ID", "")
    if args.app_certificate is not None:
        err.write(f"{PROG}: warning: --app-certificate is visible to other users in process "
                  "lists and shell history; prefer the APP_CERTIFICATE environment variable\n")
        cert = args.app_certificate
    else:
        cert = os.environ.get("APP_CERTIFICATE", "")
    if not app_id:
        raise UsageError("no app id: set APP_ID or pass --app-id")
    if not cert:
        raise UsageError("no app certificate: set APP_CERTIFICATE (or pass --app-certificate)")
    return app_id, cert


def _rtc_uid(text: str) -> Union[int, str]:
    number = parse_uid_text(text)
    return number if number is not None else text


def _role(name: str) -> int:
    return int(Role.PUBLISHER if name == "publisher" else Role.SUBSCRIBER)


def _build_rtc(app_id: str, cert: str, channel: str, uid_text: str, role: str, expire: int) -> str:
    uid = _rtc_uid(uid_text)
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
    app_id, cert = _credentials(args, err)
    return _emit(args, out, {"rtcToken": _build_rtc(app_id, cert, args.channel, args.uid, args.role,
                                                    args.expire)})


def cmd_rtm(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    app_id, cert = _credentials(args, err)
    return _emit(args, out, {"rtmToken": rtm_token(app_id, cert, args.user, expire=args.expire,
                                                   channel=args.channel)})


def cmd_chat(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    app_id, cert = _credentials(args, err)
    if args.user is None:
        token = chat_app_token(app_id, cert, expire=args.expire)
    else:
        token = chat_user_token(app_id, cert, args.user, expire=args.expire)
    return _emit(args, out, {"chatToken": token})


def cmd_rte(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    app_id, cert = _credentials(args, err)
    rtm_user = args.rtm_user if args.rtm_user is not None else args.uid
    if rtm_user in ("", "0"):
        raise UsageError("the RTM user would be empty (uid 0): pass --rtm-user")
    rtc = _build_rtc(app_id, cert, args.channel, args.uid, args.role, args.expire)
    rtm = RtmTokenBuilder.build_token(app_id, cert, rtm_user, args.expire, args.channel)
    return _emit(args, out, {"rtcToken": rtc, "rtmToken": rtm})


def _read_token(arg: str, stdin: IO[str]) -> str:
    if arg == "-":
        text = stdin.read(MAX_TOKEN_LENGTH + 16)
    else:
        text = arg
    text = text.strip()
    if not text:
        raise UsageError("no token given (empty input)")
    if len(text) > MAX_TOKEN_LENGTH:
        raise UsageError(f"token is longer than {MAX_TOKEN_LENGTH} characters")
    return text


def cmd_inspect(args: argparse.Namespace, out: IO[str], err: IO[str], stdin: IO[str]) -> int:
    token = _read_token(args.token, stdin)
    if args.app_certificate is not None:
        err.write(f"{PROG}: warning: --app-certificate is visible to other users in process "
                  "lists and shell history; prefer the APP_CERTIFICATE environment variable\n")
        cert: Optional[str] = args.app_certificate
    else:
        cert = os.environ.get("APP_CERTIFICATE") or None
    now = time.time()
    try:
        info = describe_token(token, cert, channel=args.channel, uid=args.uid, now=now)
    except InvalidTokenError as exc:
        raise UsageError(f"malformed token: {exc}") from None
    if args.json:
        out.write(json.dumps(info, indent=2, ensure_ascii=True) + "\n")
    else:
        out.write(render_table(info, now) + "\n")
    sig = info["signature"]
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
  {PROG} inspect 007eJxTY...                           # what does this token grant?
  echo "$TOKEN" | {PROG} inspect - --json

credentials come from APP_ID / APP_CERTIFICATE (or --app-id / --app-certificate;
the latter is visible in process lists). Exit codes: 0 ok, 1 invalid signature
(inspect), 2 bad input.
"""


def build_parser() -> _Parser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, formatter_class=fmt, epilog=_MAIN_EPILOG,
                     description="Build and inspect Agora access tokens (AccessToken2 007, legacy 006).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    creds = _Parser(add_help=False)
    g = creds.add_argument_group("credentials")
    g.add_argument("--app-id", metavar="HEX32", help="Agora app id (default: $APP_ID)")
    g.add_argument("--app-certificate", metavar="HEX32",
                   help="app certificate (default: $APP_CERTIFICATE; the flag is visible in process lists)")
    common = _Parser(add_help=False)
    common.add_argument("--expire", type=int, default=3600, metavar="SECONDS",
                        help="token and privilege lifetime in seconds (default: 3600)")
    common.add_argument("--json", action="store_true", help="print JSON, keyed like the token service")

    def add(name: str, help_text: str, epilog: str, parents: Sequence[_Parser]) -> _Parser:
        p: _Parser = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                    formatter_class=fmt, parents=list(parents))
        return p

    role_help = "RTC role: publisher (join + publish, the default) or subscriber (join only)"
    uid_help = "plain decimal digits: a numeric uid (0 = any user, max 4294967295); anything else: a user account"

    p = add("rtc", "Build an RTC (video/voice) token for a channel and a uid.",
            f"examples:\n  {PROG} rtc --channel lobby --uid 42\n"
            f"  {PROG} rtc --channel lobby --uid alice --role subscriber --expire 600\n"
            f"  {PROG} rtc --channel lobby --uid 0 --json      # any user\n", [creds, common])
    p.add_argument("--channel", required=True, help="channel name (at most 64 bytes)")
    p.add_argument("--uid", required=True, help=uid_help)
    p.add_argument("--role", choices=("publisher", "subscriber"), default="publisher", help=role_help)
    p.set_defaults(func=cmd_rtc)

    p = add("rtm", "Build an RTM (signaling) token for a user.",
            f"examples:\n  {PROG} rtm --user alice\n"
            f"  {PROG} rtm --user alice --channel lobby   # adds the stream-channel RTC service\n",
            [creds, common])
    p.add_argument("--user", required=True, help="RTM user id")
    p.add_argument("--channel", help="optional stream channel ('*' allowed): adds RTC join + publish-data")
    p.set_defaults(func=cmd_rtm)

    p = add("chat", "Build a Chat token: a user token with --user, else an app token.",
            f"examples:\n  {PROG} chat --user alice\n  {PROG} chat              # app (administrator) token\n",
            [creds, common])
    p.add_argument("--user", help="chat user id (omit for an app token)")
    p.set_defaults(func=cmd_chat)

    p = add("rte", "Build an RTC token and an RTM token (with the channel's stream service) together.",
            f"examples:\n  {PROG} rte --channel lobby --uid 42\n"
            f"  {PROG} rte --channel lobby --uid 42 --rtm-user alice --json\n", [creds, common])
    p.add_argument("--channel", required=True, help="channel name (at most 64 bytes)")
    p.add_argument("--uid", required=True, help=uid_help)
    p.add_argument("--rtm-user", help="RTM user id (default: --uid as written)")
    p.add_argument("--role", choices=("publisher", "subscriber"), default="publisher", help=role_help)
    p.set_defaults(func=cmd_rte)

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


def main(argv: Optional[Sequence[str]] = None, *, stdin: Optional[IO[str]] = None,
         stdout: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None) -> int:
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
        if args.expire < 0:
            raise UsageError(f"--expire must be >= 0, got {args.expire}")
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
    except Exception as exc:  # never a traceback
        err.write(f"{PROG}: internal error: {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
