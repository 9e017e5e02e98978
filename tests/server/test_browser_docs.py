"""``/docs`` in a real headless Chromium, under the page's own
Content-Security-Policy, driven like a person would through the DevTools
protocol (``--remote-debugging-port``; a websocket from aiohttp, no webdriver,
nothing downloaded):

* Swagger UI renders every operation of ``/openapi.json``, and the browser
  reports no CSP violation, no script error and no console error;
* the Authorize dialog takes an API key (``apiKeyAuth``: ``X-API-Key``),
  "Try it out" + "Execute" then gets a real token from ``POST /getToken``;
  after a logout, a key given as ``bearerAuth`` (``Authorization: Bearer``)
  gets one from a deprecated GET route with the pre-filled parameters; with
  no credential the page shows the service's 401;
* on a service whose own origin is not in ``CORS_ALLOW_ORIGIN``, GET and POST
  from the page work: a POST carries the service's own ``Origin``, a
  same-origin request, as the document's description says.

Skipped only when no Chromium is installed (``apt-get install chromium``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest

from agora_token import verify
from agora_token_server.testing import LiveServer, free_port
from tests.support.chromium import BROWSER_TEST, headless
from tests.support.openapi import SPEC
from tests.support.service import APP_CERTIFICATE, CREDENTIALS

pytestmark = BROWSER_TEST

API_KEY = "docs-browser-key-0123456789abcdef"


class Page:
    """One browser tab over the DevTools protocol: evaluate, click, type, and
    every console, log and exception event it reported."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            future = self.pending.pop(data.get("id", -1), None)
            if future is not None:
                future.set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        data = await asyncio.wait_for(future, 30)
        assert "error" not in data, data
        return dict(data["result"])

    async def eval(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def wait(self, expression: str, limit: float = 20) -> Any:
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            value = await self.eval(expression)
            if value:
                return value
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {expression}"
            await asyncio.sleep(0.1)

    async def click(self, selector: str, text: str = "") -> None:
        """Click the first element matching ``selector`` (whose text is ``text``, when given)."""
        found = await self.eval(
            f"(function(){{var t={json.dumps(text)};var es=document.querySelectorAll({json.dumps(selector)});"
            "for(var i=0;i<es.length;i++){if(!t||es[i].textContent.trim()===t){es[i].click();return true}}"
            "return false})()")
        assert found, (selector, text)

    async def type(self, selector: str, text: str) -> None:
        focused = await self.eval(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                                  "if(!e)return false;e.focus();return document.activeElement===e})()")
        assert focused, selector
        await self.send("Input.insertText", text=text)

    async def text(self, selector: str) -> str:
        return str(await self.wait(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                                   "return e?e.innerText:''})()"))

    def problems(self) -> list[str]:
        """CSP violations, script errors and console errors (a page's own
        failed requests, e.g. a 401 it was asked to show, are ``network``)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Log.entryAdded" and params["entry"]["source"] != "network" \
                    and params["entry"]["level"] in ("error", "warning"):
                found.append(f"{params['entry']['source']}: {params['entry']['text']}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
                found.append(f"console.{params['type']}: {params['args']}")
        return found


class Browser:
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc = subprocess.Popen(
            headless(profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    async def endpoint(self) -> str:
        active = self.profile / "DevToolsActivePort"
        for _ in range(600):
            lines = active.read_text().split() if active.exists() else []
            if len(lines) >= 2:
                return f"http://127.0.0.1:{lines[0]}"
            assert self.proc.poll() is None, "chromium exited"
            await asyncio.sleep(0.05)
        raise AssertionError("chromium did not open its DevTools port")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    browser = Browser(tmp_path / "profile")
    try:
        base = await browser.endpoint()
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/json/list") as resp:
                target = next(t for t in await resp.json() if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tab = Page(ws)
                for domain in ("Runtime", "Log", "Page"):
                    await tab.send(f"{domain}.enable")
                yield tab
                tab.reader.cancel()
    finally:
        browser.stop()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    """``own``: its own origin in CORS_ALLOW_ORIGIN (POSTs work from /docs);
    ``other``: only another origin listed."""
    tmp = tmp_path_factory.mktemp("docs-browser")
    port = free_port()
    own = LiveServer(tmp, {**CREDENTIALS, "AUTH_API_KEYS": API_KEY,
                           "CORS_ALLOW_ORIGIN": f"http://127.0.0.1:{port}"}, port=port)
    other = LiveServer(tmp, {**CREDENTIALS, "AUTH_API_KEYS": API_KEY,
                             "CORS_ALLOW_ORIGIN": "https://app.example.com"})
    try:
        yield {"own": own.wait_ready(), "other": other.wait_ready()}
    finally:
        own.stop()
        other.stop()


OPERATIONS = {op["operationId"]: (op["tags"][0].replace(" ", "_"))
              for item in SPEC["paths"].values() for op in item.values()}


async def open_docs(page: Page, url: str) -> None:
    await page.send("Page.navigate", url=url + "/docs")
    await page.wait(f"document.querySelectorAll('.opblock').length === {len(OPERATIONS)}")


async def authorize(page: Page, scheme: str, credential: str) -> None:
    """Open Authorize, fill in ``scheme``'s field, apply, close."""
    await page.click("button.authorize")
    container = (f"(function(){{var cs=document.querySelectorAll('.modal-ux .auth-container');"
                 f"for(var i=0;i<cs.length;i++){{var h=cs[i].querySelector('h4 code');"
                 f"if(h&&h.textContent==={json.dumps(scheme)})return i+1}}return 0}})()")
    index = await page.wait(container)
    box = f".modal-ux .auth-container:nth-child({index})"
    await page.type(f"{box} input", credential)
    await page.click(f"{box} button.authorize")
    await page.wait(f"!!document.querySelector('{box}').innerText.match(/Logout/)")
    await page.click(".modal-ux button.close-modal")


async def logout(page: Page, scheme_index_text: str = "Logout") -> None:
    await page.click("button.authorize")
    await page.wait("!!document.querySelector('.modal-ux')")
    while await page.eval("Array.from(document.querySelectorAll('.modal-ux button'))"
                          ".some(b => b.textContent.trim() === 'Logout')"):
        await page.click(".modal-ux button", scheme_index_text)
    await page.click(".modal-ux button.close-modal")


async def try_it(page: Page, operation_id: str) -> tuple[int, str, str]:
    """Expand the operation, Try it out, Execute: (status shown, body shown, curl shown)."""
    op = f"#operations-{OPERATIONS[operation_id]}-{operation_id}"
    await page.click(f"{op} .opblock-summary-control")
    await page.wait(f"!!document.querySelector('{op} .try-out__btn')")
    await page.click(f"{op} .try-out__btn")
    await page.wait(f"!!document.querySelector('{op} button.execute')")
    await page.click(f"{op} button.execute")
    status = await page.text(f"{op} .live-responses-table tbody .response-col_status")
    body = await page.text(f"{op} .live-responses-table tbody .response-col_description pre")
    curl = await page.text(f"{op} .curl-command")
    await page.click(f"{op} .opblock-summary-control")  # collapse it again
    return int(status.split()[0]), body, curl


async def test_docs_page_renders_and_tries_requests(page: Page, services: dict[str, LiveServer]) -> None:
    url = services["own"].url
    await open_docs(page, url)
    ids = await page.eval("Array.from(document.querySelectorAll('.opblock')).map(e => e.id)")
    assert sorted(ids) == sorted(f"operations-{tag}-{op}" for op, tag in OPERATIONS.items())
    info = await page.text(".information-container")
    assert "Agora token service" in info and "Trying it here" in info

    # an API key through the Authorize dialog (apiKeyAuth), then POST /getToken with its example body
    await authorize(page, "apiKeyAuth", API_KEY)
    status, body, curl = await try_it(page, "getToken")
    assert status == 200, body
    assert verify(json.loads(body)["token"], APP_CERTIFICATE)
    assert f"X-API-Key: {API_KEY}" in curl and "Authorization" not in curl

    # the same key as a bearer credential, on a deprecated GET route with its pre-filled parameters
    await logout(page)
    await authorize(page, "bearerAuth", API_KEY)
    status, body, curl = await try_it(page, "getRtmToken")
    assert status == 200, body
    assert verify(json.loads(body)["rtmToken"], APP_CERTIFICATE)
    assert f"Authorization: Bearer {API_KEY}" in curl and "X-API-Key" not in curl

    # no credential: the page shows the service's 401
    await logout(page)
    status, body, _ = await try_it(page, "encryption")
    assert status == 401 and "authentication required" in json.loads(body)["error"], body

    assert page.problems() == []


async def test_docs_page_posts_work_without_listing_its_own_origin(page: Page,
                                                                   services: dict[str, LiveServer]) -> None:
    """The description's "Trying it here": a POST from /docs carries the
    service's own Origin, a same-origin request: served even when
    CORS_ALLOW_ORIGIN lists only another origin."""
    await open_docs(page, services["other"].url)
    await authorize(page, "apiKeyAuth", API_KEY)
    status, body, _ = await try_it(page, "encryption")
    assert status == 200 and set(json.loads(body)) == {"secret", "salt"}, body
    status, body, _ = await try_it(page, "getToken")
    assert status == 200 and verify(json.loads(body)["token"], APP_CERTIFICATE), body
    assert page.problems() == []
