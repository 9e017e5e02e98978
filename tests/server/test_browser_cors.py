"""A real headless Chromium loads a page from one origin that ``fetch``es
tokens from the service on another origin.

* page origin ``http://127.0.0.1:A`` is listed in ``CORS_ALLOW_ORIGIN``: the
  browser lets the page read the tokens (JSON POSTs and custom headers go
  through a CORS preflight first), and reads the ``401`` of a request without
  an API key;
* page origin ``http://localhost:A`` (same server, different origin) is not
  listed: every fetch is blocked by the browser, and the service issues no
  token (checked on its ``/metrics``).

Two services run: one open (the drop-in configuration) and one with an API key
(``X-API-Key`` or ``Authorization: Bearer``). Chromium is driven with
``--dump-dom`` (no webdriver, nothing downloaded). The ``/docs`` page in
Chromium: test_browser_docs.py. Skipped only when no
Chromium is installed (``apt-get install chromium``; ``.ci/run`` does it).
"""

from __future__ import annotations

import html
import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from agora_token import verify
from agora_token_server.testing import LiveServer, request
from tests.support.chromium import BROWSER_TEST, headless
from tests.support.service import APP_CERTIFICATE, CREDENTIALS

pytestmark = BROWSER_TEST

API_KEY = "browser-test-key-0123456789abcdef"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cors test</title></head>
<body><pre id="out">pending</pre>
<script>
const OPEN = "%(open)s", AUTH = "%(auth)s", KEY = "%(key)s";
const body = JSON.stringify({tokenType: "rtc", channel: "test", role: "publisher", uid: "42"});
const json = {"Content-Type": "application/json"};
const attempts = [
  ["open_post", OPEN + "/getToken", {method: "POST", headers: json, body}],
  ["open_get", OPEN + "/rtc/test/publisher/uid/42/", {}],
  ["auth_no_key", AUTH + "/getToken", {method: "POST", headers: json, body}],
  ["auth_x_api_key", AUTH + "/getToken", {method: "POST", headers: {...json, "X-API-Key": KEY}, body}],
  ["auth_bearer", AUTH + "/getToken", {method: "POST", headers: {...json, "Authorization": "Bearer " + KEY}, body}],
  ["auth_get_x_api_key", AUTH + "/rtm/alice/", {headers: {"X-API-Key": KEY}}],
];
(async () => {
  const results = {};
  for (const [name, url, opts] of attempts) {
    try {
      const r = await fetch(url, opts);
      results[name] = {fetched: true, status: r.status, body: await r.text()};
    } catch (e) {
      results[name] = {fetched: false, error: String(e)};
    }
  }
  document.getElementById("out").textContent = JSON.stringify(results);
})();
</script></body></html>
"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("browser")
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    port = page_server.server_address[1]
    allowed = f"http://127.0.0.1:{port}"
    open_svc = LiveServer(tmp, {**CREDENTIALS, "CORS_ALLOW_ORIGIN": allowed})
    auth_svc = LiveServer(tmp, {**CREDENTIALS, "CORS_ALLOW_ORIGIN": allowed, "AUTH_API_KEYS": API_KEY})
    try:
        open_svc.wait_ready()
        auth_svc.wait_ready()
        handler = type("Handler", (_PageHandler,), {"page": (PAGE % {
            "open": open_svc.url, "auth": auth_svc.url, "key": API_KEY}).encode()})
        page_server.RequestHandlerClass = handler
        thread = threading.Thread(target=page_server.serve_forever, daemon=True)
        thread.start()
        yield {"port": port, "open": open_svc, "auth": auth_svc, "tmp": tmp}
    finally:
        page_server.shutdown()
        page_server.server_close()
        open_svc.stop()
        auth_svc.stop()


def run_chromium(url: str, tmp: Path) -> dict[str, Any]:
    profile = tmp / f"profile-{os.getpid()}-{abs(hash(url))}"
    cmd = headless(profile, "--virtual-time-budget=20000", "--dump-dom", url)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
    assert match, (f"no result in the page (chromium exit {proc.returncode}):\n"
                   f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    text = html.unescape(match.group(1))
    assert text != "pending", "the page's fetches did not finish"
    return dict(json.loads(text))


def tokens_issued(svc: LiveServer) -> float:
    status, _, body = request(svc.url + "/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("agora_token_tokens_issued_total{"))


def test_listed_origin_can_fetch_tokens(setup: dict[str, Any]) -> None:
    r = run_chromium(f"http://127.0.0.1:{setup['port']}/", setup["tmp"])
    for name in ("open_post", "open_get", "auth_x_api_key", "auth_bearer", "auth_get_x_api_key"):
        assert r[name]["fetched"] and r[name]["status"] == 200, (name, r[name])
        doc = json.loads(r[name]["body"])
        for token in doc.values():
            assert verify(token, APP_CERTIFICATE)
    # without a key the browser can read the 401 (CORS headers on errors too)
    assert r["auth_no_key"]["fetched"] and r["auth_no_key"]["status"] == 401, r["auth_no_key"]
    assert "error" in json.loads(r["auth_no_key"]["body"])


def test_unlisted_origin_is_blocked(setup: dict[str, Any]) -> None:
    before = tokens_issued(setup["open"]) + tokens_issued(setup["auth"])
    r = run_chromium(f"http://localhost:{setup['port']}/", setup["tmp"])
    for name, result in r.items():
        assert result["fetched"] is False, (name, result)
        assert "Failed to fetch" in result["error"] or "TypeError" in result["error"]
    assert tokens_issued(setup["open"]) + tokens_issued(setup["auth"]) == before, "a blocked origin got tokens"

