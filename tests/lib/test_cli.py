"""The ``agora-token`` command line: build, inspect, errors, help, on both cores."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agora_token
from agora_token import RtcTokenBuilder, ServiceRtc, ServiceRtm, parse, verify
from agora_token.cli import humanize_delta, main, relative_expiry
from tests.support.credentials import APP_CERTIFICATE as CERT
from tests.support.credentials import APP_ID
from tests.support.credentials import OTHER_CERTIFICATE as OTHER_CERT
from tests.support.request_rules import CASES, Case, argv, grants, message

pytestmark = pytest.mark.usefixtures("core")


@pytest.fixture(autouse=True)
def _creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ID", APP_ID)
    monkeypatch.setenv("APP_CERTIFICATE", CERT)


def run(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def only_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ------------------------------------------------------------------ build

def test_rtc_numeric_uid_publisher(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtc", "--channel", "lobby", "--uid", "42"]) == 0
    out, err = capsys.readouterr()
    token = only_line(out)
    assert err == ""
    t = parse(token)
    assert t.app_id == APP_ID and t.expire == 3600
    (svc,) = t.services
    assert isinstance(svc, ServiceRtc)
    assert (svc.channel_name, svc.uid) == ("lobby", "42")
    assert svc.privileges == {1: 3600, 2: 3600, 3: 3600, 4: 3600}
    assert verify(token, CERT)


def test_rtc_account_subscriber_expire() -> None:
    code, out, _ = run(["rtc", "--channel", "c", "--uid", "alice", "--role", "subscriber", "--expire", "600"])
    assert code == 0
    t = parse(only_line(out))
    assert t.expire == 600
    assert t.services[0].uid == "alice"
    assert t.services[0].privileges == {1: 600}


def test_rtc_uid_normalisation_and_zero() -> None:
    code, out, _ = run(["rtc", "--channel", "c", "--uid", "007", "--json"])
    assert code == 0
    assert parse(json.loads(out)["rtcToken"]).services[0].uid == "7"
    code, out, _ = run(["rtc", "--channel", "c", "--uid", "0"])
    assert parse(only_line(out)).services[0].uid == ""  # any user


def test_rtm_with_channel() -> None:
    code, out, _ = run(["rtm", "--user", "alice", "--channel", "*"])
    assert code == 0
    t = parse(only_line(out))
    rtm = [s for s in t.services if isinstance(s, ServiceRtm)]
    rtc = [s for s in t.services if isinstance(s, ServiceRtc)]
    assert rtm[0].user_id == "alice"
    assert (rtc[0].channel_name, rtc[0].uid, set(rtc[0].privileges)) == ("*", "alice", {1, 4})


def test_chat_app_and_user() -> None:
    code, out, _ = run(["chat", "--json"])
    assert code == 0
    app = parse(json.loads(out)["chatToken"]).services[0]
    assert (app.user_id, app.privileges) == ("", {2: 3600})
    code, out, _ = run(["chat", "--user", "bob", "--expire", "60"])
    user = parse(only_line(out)).services[0]
    assert (user.user_id, user.privileges) == ("bob", {1: 60})


def test_rte_labelled_and_json() -> None:
    code, out, _ = run(["rte", "--channel", "lobby", "--uid", "42"])
    assert code == 0
    lines = out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["rtcToken:", "rtmToken:"]
    code, out, _ = run(["rte", "--channel", "lobby", "--uid", "42", "--rtm-user", "alice", "--json"])
    body = json.loads(out)
    assert parse(body["rtcToken"]).services[0].uid == "42"
    rtm_services = parse(body["rtmToken"]).services
    assert {type(s) for s in rtm_services} == {ServiceRtm, ServiceRtc}
    assert any(isinstance(s, ServiceRtm) and s.user_id == "alice" for s in rtm_services)


def services_of(out: str, key: str) -> list[tuple[Any, ...]]:
    body = json.loads(out)
    assert list(body) == [key]
    assert verify(body[key], CERT)
    t = parse(body[key])
    return [(s.type, s.privileges, *(getattr(s, n) for n in s.field_names)) for s in t.services]


def test_rtm2_with_permissions() -> None:
    code, out, err = run(["rtm2", "--user", "alice", "--expire", "60", "--json",
                          "--permission", "messageChannels:read:lobby,news", "--permission", "users:write:bob",
                          "--permission", "streamChannels:write:", "--permission", "messageChannels:read:more"])
    assert code == 0, err
    assert services_of(out, "rtm2Token") == [(8, {1: 60}, "alice", {0: {0: ["lobby", "news", "more"]},
                                                                      4: {1: ["bob"]}, 1: {1: []}})]
    code, out, _ = run(["rtm2", "--user", "alice", "--json"])
    assert services_of(out, "rtm2Token") == [(8, {1: 3600}, "alice", {})]


@pytest.mark.parametrize("args, key, expected", [
    (["streaming", "--channel", "c", "--account", "42", "--mix-stream"], "streamingToken", (3, {1: 3600}, "c", "42")),
    (["streaming", "--channel", "c", "--account", "alice", "--mix-stream", "--raw-stream", "--expire", "9"],
     "streamingToken", (3, {1: 9, 2: 9}, "c", "alice")),
    (["fcdn", "--channel", "c", "--account", "42", "--play"], "fcdnToken", (6, {2: 3600}, "c", "42")),
    (["fcdn", "--channel", "c", "--account", "42", "--publish", "--play"], "fcdnToken",
     (6, {1: 3600, 2: 3600}, "c", "42")),
    (["fpa"], "fpaToken", (4, {1: 0})),
    (["apaas", "--user", "alice", "--expire", "5"], "apaasToken", (7, {2: 5}, "", "alice", -1)),
    (["apaas"], "apaasToken", (7, {3: 3600}, "", "", -1)),
])
def test_every_kind_the_service_issues(args: list[str], key: str, expected: tuple[Any, ...]) -> None:
    code, out, err = run([*args, "--json"])
    assert code == 0, err
    assert services_of(out, key) == [expected]


def test_fpa_lasts_24_hours_by_default() -> None:
    code, out, _ = run(["fpa"])
    assert code == 0 and parse(only_line(out)).expire == 86400
    code, out, _ = run(["fpa", "--expire", "60"])
    assert parse(only_line(out)).expire == 60
    code, out, _ = run(["rtc", "--channel", "c", "--uid", "1"])  # the other commands keep their default
    assert parse(only_line(out)).expire == 3600


def test_apaas_room_user_token() -> None:
    import hashlib

    code, out, err = run(["apaas", "--room", "class-1", "--user", "alice", "--role", "2", "--expire", "60", "--json"])
    assert code == 0, err
    assert services_of(out, "apaasToken") == [(2, {1: 60}, "alice"),
                                              (5, {1: 60}, hashlib.md5(b"alice").hexdigest()),
                                              (7, {1: 60}, "class-1", "alice", 2)]


def test_inspect_shows_every_kind() -> None:
    for args in (["rtm2", "--user", "a", "--permission", "users:read:b"],
                 ["streaming", "--channel", "c", "--account", "1", "--raw-stream"],
                 ["fcdn", "--channel", "c", "--account", "1", "--play"], ["fpa"], ["apaas"]):
        code, out, _ = run(args)
        code, shown, err = run(["inspect", only_line(out)])
        assert code == 0 and "signature  valid" in shown, err
        assert f"[1] {args[0]} (service type" in shown
        assert "privilege" not in shown.split("privileges", 1)[1].replace("privileges", "")  # every name known
    code, out, _ = run(["rtm2", "--user", "a", "--permission", "users:read:b"])
    code, shown, _ = run(["inspect", only_line(out), "--json"])
    assert json.loads(shown)["services"][0]["permissions"] == {"users": {"read": ["b"]}}


def test_rte_uid_zero_needs_rtm_user() -> None:
    code, out, err = run(["rte", "--channel", "lobby", "--uid", "0"])
    assert code == 2 and out == ""
    assert "--rtm-user" in only_line(err)


def test_credentials_from_flags_warn_about_process_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ID")
    monkeypatch.delenv("APP_CERTIFICATE")
    code, out, err = run(["rtc", "--channel", "c", "--uid", "1", "--app-id", APP_ID, "--app-certificate", CERT])
    assert code == 0 and verify(only_line(out), CERT)
    assert "process lists" in err and CERT not in err


@pytest.mark.parametrize("env, flag", [("APP_ID", "--app-id"), ("APP_CERTIFICATE", "APP_CERTIFICATE")])
def test_missing_credentials(monkeypatch: pytest.MonkeyPatch, env: str, flag: str) -> None:
    monkeypatch.delenv(env)
    code, out, err = run(["rtc", "--channel", "c", "--uid", "1"])
    assert code == 2 and out == ""
    assert flag in only_line(err)


@pytest.mark.parametrize("args, needle", [
    (["rtc", "--channel", "c", "--uid", "4294967296"], "4294967295"),
    (["rtc", "--channel", "x" * 65, "--uid", "1"], "64"),
    (["rtc", "--channel", "c", "--uid", "1", "--expire", "-5"], "expire"),
    (["rtc", "--channel", "c", "--uid", "1", "--expire", "4294967296"], "expire"),
    (["rtc", "--channel", "c", "--uid", "1", "--expire", "soon"],
     "--expire must be a whole number of seconds in 0..4294967295, got 'soon'"),
    (["rtc", "--uid", "1"], "--channel"),
    (["rtc", "--channel", "c", "--uid", "1", "--role", "admin"], "role"),
    (["rtm", "--user", ""], "missing --user (required for rtm tokens)"),
    (["rtm", "--user", "0"], "--user must be a user id other than 0 (for rtm tokens)"),
    (["rtc", "--channel", "", "--uid", "42"], "missing --channel (required for rtc tokens)"),
    (["rte", "--channel", "", "--uid", "42"], "missing --channel (required for rte tokens)"),
    (["rte", "--channel", "c", "--uid", "000"], "no RTM user: give --rtm-user, or an --uid other than empty or 0"),
    (["rte", "--channel", "c", "--uid", "42", "--rtm-user", "0"], "no RTM user"),
    (["rtc", "--channel", "c", "--uid", "42", "--expire", "99999999999"],
     "--expire must be a whole number of seconds in 0..4294967295, got 99999999999"),
    (["rtm2", "--user", "0"], "--user must be a user id other than 0"),
    (["fcdn", "--channel", "", "--account", "1", "--play"], "missing --channel (required for fcdn tokens)"),
    (["apaas", "--user", ""], "--user must not be empty"),
    (["apaas", "--user", "u" * 256], "--user is 256 bytes long; at most 255 are allowed"),
    (["rtc", "--channel", "c", "--uid", "1", "--app-id", "nothex"], "app_id"),
    (["nope"], "invalid choice"),
    (["rtm2", "--user", "a", "--permission", "channels:read:x"], "RESOURCE:PERMISSION:NAME"),
    (["rtm2", "--user", "a", "--permission", "users:admin:x"], "PERMISSION read or write"),
    (["rtm2", "--user", "a", "--permission", "users"], "RESOURCE:PERMISSION:NAME"),
    (["streaming", "--channel", "c", "--account", "1"], "--mix-stream and/or --raw-stream"),
    (["streaming", "--channel", "x" * 65, "--account", "1", "--mix-stream"], "64"),
    (["fcdn", "--channel", "c", "--account", "1"], "--publish and/or --play"),
    (["fcdn", "--channel", "c", "--account", "1", "--play", "--expire", "-1"], "expire"),
    (["fpa", "--expire", "-1"], "expire"),
    (["apaas", "--room", "r"], "--room needs --user"),
    (["apaas", "--room", "r", "--user", "u", "--role", "40000"], "--role must be in -32768..32767, got 40000"),
])
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str) -> None:
    code, out, err = run(args)
    assert code == 2, err
    assert out == ""
    line = only_line(err)
    assert line.startswith("agora-token")
    assert needle in line
    assert "Traceback" not in err


def test_no_command_prints_help_exit_2() -> None:
    code, _out, err = run([])
    assert code == 2 and "usage:" in err


@pytest.mark.parametrize("cmd", [[], ["rtc"], ["rtm"], ["chat"], ["rte"], ["rtm2"], ["streaming"], ["fcdn"], ["fpa"],
                                 ["apaas"], ["inspect"]])
def test_help_everywhere_with_examples(cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*cmd, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage:" in out and "examples:" in out and "agora-token" in out


# ---------------------------------------------------------------- inspect

def test_inspect_table_valid_signature() -> None:
    token = RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "lobby", 42, 1, 3600, 3600)
    code, out, err = run(["inspect", token])
    assert code == 0, err
    assert "version    007" in out
    assert APP_ID in out
    assert "UTC" in out
    assert "expires in 59 min" in out or "expires in 1 h" in out
    assert "signature  valid" in out
    for name in ("joinChannel (1)", "publishAudioStream (2)", "publishVideoStream (3)", "publishDataStream (4)"):
        assert name in out
    assert "channel     lobby" in out and "uid         42" in out


def test_inspect_json_and_stdin() -> None:
    token = agora_token.rtm_token(APP_ID, CERT, "alice", channel="lobby", expire=120)
    code, out, _ = run(["inspect", "-", "--json"], stdin=token + "\n")
    assert code == 0
    info = json.loads(out)
    assert info["version"] == "007" and info["appId"] == APP_ID
    assert info["expired"] is False and info["expiresAt"].endswith("Z")
    assert info["signature"] == {"checked": True, "valid": True, "reason": None}
    types = {s["type"]: s for s in info["services"]}
    assert types["rtm"]["userId"] == "alice"
    assert types["rtm"]["privileges"]["login"]["expire"] == 120
    assert set(types["rtc"]["privileges"]) == {"joinChannel", "publishDataStream"}


def test_inspect_invalid_signature_exit_1() -> None:
    token = agora_token.chat_app_token(APP_ID, CERT)
    code, out, _ = run(["inspect", token, "--json"], stdin="")
    assert json.loads(out)["signature"]["valid"] is True
    out_err = io.StringIO()
    code = main(["inspect", token, "--app-certificate", OTHER_CERT], stdout=(o := io.StringIO()), stderr=out_err)
    assert code == 1
    assert "INVALID" in o.getvalue()
    assert "process lists" in out_err.getvalue()


def test_inspect_without_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_CERTIFICATE")
    token = agora_token.chat_user_token(APP_ID, CERT, "bob")
    code, out, _ = run(["inspect", token])
    assert code == 0
    assert "not checked" in out
    assert "userId      bob" in out and "user (1)" in out


def test_inspect_expired_token() -> None:
    token = RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "c", 1, 2, 0, 0)
    _code, out, _ = run(["inspect", token, "--json"])
    assert json.loads(out)["expired"] is True


def test_inspect_escapes_control_characters() -> None:
    token = agora_token.rtm_token(APP_ID, CERT, "a\x1b[31mb")
    code, out, _ = run(["inspect", token])
    assert code == 0 and "\x1b" not in out and "\\x1b" in out


@pytest.mark.parametrize("token", ["garbage", "007", "007!!!!", "006abc", "  ", "007" + "A" * 70000])
def test_inspect_malformed_is_one_line_exit_2(token: str) -> None:
    code, out, err = run(["inspect", token])
    assert code == 2 and out == ""
    assert only_line(err).startswith("agora-token: error:")


def test_inspect_empty_stdin() -> None:
    code, _, err = run(["inspect", "-"], stdin="")
    assert code == 2 and "empty" in only_line(err)


def _vector006(vectors: list[dict[str, object]]) -> dict[str, object]:
    for vec in vectors:
        if vec.get("builder") == "RtcTokenBuilder.buildTokenWithUid" and vec["uid"]:
            return dict(vec)
    pytest.skip("no 006 RTC uid vector")


def test_inspect_006_needs_channel_and_uid(monkeypatch: pytest.MonkeyPatch,
                                           vectors006: list[dict[str, object]]) -> None:
    vec = _vector006(vectors006)
    token, cert = str(vec["token"]), str(vec["app_certificate"])
    monkeypatch.setenv("APP_CERTIFICATE", cert)
    code, out, _ = run(["inspect", token])
    assert code == 0
    assert "version    006" in out and "--channel and --uid" in out and "joinChannel (1)" in out
    code, out, _ = run(["inspect", token, "--json", "--channel", str(vec["channel_name"]), "--uid", str(vec["uid"])])
    assert code == 0 and json.loads(out)["signature"]["valid"] is True
    code, out, _ = run(["inspect", token, "--channel", "other", "--uid", str(vec["uid"])])
    assert code == 1 and "INVALID" in out


def test_humanize() -> None:
    assert humanize_delta(45) == "45 s"
    assert humanize_delta(59 * 60 + 29) == "59 min"
    assert humanize_delta(59 * 60 + 30) == "1 h"  # rounded, not cut
    assert humanize_delta(599.6) == "10 min"
    assert humanize_delta(59.4) == "59 s" and humanize_delta(59.6) == "1 min"
    assert humanize_delta(2 * 86400 + 3 * 3600 + 1799) == "2 days 3 h"
    assert humanize_delta(3 * 3600) == "3 h"
    assert humanize_delta(3 * 3600 + 300) == "3 h 5 min"
    assert humanize_delta(5 * 86400) == "5 days"
    assert relative_expiry(1000 + 3540, 1000) == "expires in 59 min"
    assert relative_expiry(1000, 1000 + 3 * 3600) == "expired 3 h ago"


# ------------------------------------------------------- the real command

def test_installed_script_and_python_m() -> None:
    env = {**os.environ, "APP_ID": APP_ID, "APP_CERTIFICATE": CERT}
    script = Path(sys.executable).with_name("agora-token")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "agora_token"]
    proc = subprocess.run([*cmd, "rtc", "--channel", "lobby", "--uid", "42"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert verify(token, CERT)
    proc = subprocess.run([sys.executable, "-m", "agora_token", "inspect", "-"], input=token, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "signature  valid" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "agora_token", "inspect", "not-a-token"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------- version, expire 0

def test_version_names_the_core_and_its_libraries(core: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    line = only_line(capsys.readouterr().out)
    features = ", ".join(f"{k}: {v}" for k, v in core.FEATURES.items())
    assert line == f"agora-token {agora_token.__version__} (backend: {core.BACKEND}; {features})"
    if core.BACKEND == "cython":
        assert "sha256: " in line and "zlib: " in line


def test_installed_script_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "agora_token", "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"agora-token {agora_token.__version__} (backend: {agora_token.BACKEND}; sha256: ")


def test_inspect_privilege_expire_zero_has_no_limit_of_its_own() -> None:
    token = RtcTokenBuilder.build_token_with_uid(APP_ID, CERT, "c", 1, 2, 600, 0)
    code, out, _ = run(["inspect", token])
    assert code == 0
    assert "joinChannel (1)  0 s: no limit of its own (the token's expiry applies)" in out
    assert "expired" not in out.split("privileges")[1]
    code, out, _ = run(["inspect", token, "--json"])
    assert json.loads(out)["services"][0]["privileges"]["joinChannel"]["expiresAt"] is None


def test_inspect_006_rtm_token_with_uid_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from agora_token.legacy import RtmTokenBuilder006
    token = RtmTokenBuilder006.build_token(APP_ID, CERT, "bob", 1, 0)
    code, out, _ = run(["inspect", token, "--uid", "bob"])
    assert code == 0 and "signature  valid" in out and "never expires" in out


# --------------------------------------------- the service's rules (agora_token.rules)

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_follows_the_rules_of_post_gettoken(case: Case) -> None:
    """Every case of the table tests/server/test_token_routes.py posts to the
    service: the same accept / refuse, the same message with the flag's name."""
    code, out, err = run(argv(case))
    expected = message(case, "flag")
    if expected is None:
        assert code == 0, err
        assert verify(only_line(out), CERT)
    else:
        assert (code, out, err) == (2, "", f"agora-token: error: {expected}\n")


@pytest.mark.parametrize("uid", ["-1", "+5", " 5", "1.5", "1e3", "\u0663"])
def test_uid_read_as_an_account_says_so(uid: str) -> None:
    code, out, err = run(["rtc", "--channel", "lobby", "--uid", uid])
    assert code == 0
    assert parse(only_line(out)).services[0].uid == uid  # the user account, as POST /getToken reads it
    note = only_line(err)
    assert note.startswith(f"agora-token: note: --uid {uid!r} is not plain decimal digits, so it is read as "
                           f"the user account {uid!r}")


@pytest.mark.parametrize("uid", ["42", "007", "0", "alice", "user@example.com"])
def test_no_note_for_a_plain_uid_or_account(uid: str) -> None:
    code, _, err = run(["rtc", "--channel", "lobby", "--uid", uid])
    assert code == 0 and err == ""


def test_expire_zero_is_the_default_with_a_note() -> None:
    code, out, err = run(["rtc", "--channel", "lobby", "--uid", "42", "--expire", "0"])
    assert code == 0 and grants(only_line(out))[0] == 3600
    assert "--expire 0 means the default, 3600 s" in only_line(err)
    code, out, err = run(["fpa", "--expire", "0"])
    assert code == 0 and grants(only_line(out))[0] == agora_token.constants.FPA_EXPIRE
    assert "86400 s" in only_line(err)


def test_fpa_default_is_the_library_constant() -> None:
    import inspect

    from agora_token.constants import FPA_EXPIRE

    assert FPA_EXPIRE == 86400
    assert inspect.signature(agora_token.FpaTokenBuilder.build_token).parameters["expire"].default == FPA_EXPIRE
    code, out, _ = run(["fpa"])
    assert parse(only_line(out)).expire == FPA_EXPIRE


def test_inspect_a_fresh_600_s_token_reads_10_min() -> None:
    _, token, _ = run(["rtc", "--channel", "lobby", "--uid", "42", "--expire", "600"])
    code, out, _ = run(["inspect", only_line(token)])
    assert code == 0
    assert "(expires in 10 min; lifetime 10 min)" in out, out


@pytest.mark.parametrize("value", [4294967296, "4294967296", "0004294967296"])
def test_a_uid_out_of_range_has_one_message_number_or_digits(value: Any) -> None:
    """The library (a number, or digits for parse_uid), the service's rules and the CLI word it alike."""
    from agora_token import rules

    expected = "uid must be in 0..4294967295, got 4294967296"
    with pytest.raises(agora_token.InvalidParameterError) as exc:
        if isinstance(value, int):
            agora_token.rtc_token(APP_ID, CERT, "c", value)
        else:
            agora_token.parse_uid(value)
    assert str(exc.value) == expected
    with pytest.raises(rules.RequestError, match=f"^{expected}$"):
        rules.rtc_uid(value)
    code, _, err = run(["rtc", "--channel", "c", "--uid", str(value)])
    assert (code, err) == (2, f"agora-token: error: --{expected}\n")
