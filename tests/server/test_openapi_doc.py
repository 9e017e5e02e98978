"""The OpenAPI document on its own: complete, internally consistent, its
schemas valid JSON Schema, its examples valid against them; and the /docs
page (Swagger UI from swagger-ui-py) self-contained under a strict CSP.
That the examples are what the server answers: test_openapi_examples.py."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
from aiohttp import web

from agora_token_server import docs_page, openapi
from agora_token_server.routes import ROUTES
from agora_token_server.state import Route
from tests.support.openapi import SPEC, resolve

jsonschema = pytest.importorskip("jsonschema")


EXPECTED = {
    ("/ping", "get"), ("/healthz", "get"), ("/readyz", "get"), ("/getToken", "post"), ("/verifyToken", "post"),
    ("/token/generate", "post"),
    ("/encryption", "get"), ("/metrics", "get"), ("/openapi.json", "get"), ("/docs", "get"),
    ("/docs/static/{name}", "get"),
    ("/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/", "get"),
    ("/rtm/{rtmuid}/", "get"),
    ("/rte/{channelName}/{role}/{tokenType}/{rtcuid}/", "get"),
    ("/rte/{channelName}/{role}/{tokenType}/{rtcuid}/{rtmuid}/", "get"),
    ("/chat/app/", "get"),
    ("/chat/account/{chatid}/", "get"),
}


def validator_for(schema: dict[str, Any]) -> Any:
    """A 2020-12 validator for ``schema`` whose ``#/components/...`` refs resolve in SPEC."""
    root = {"components": SPEC["components"], **schema}
    return jsonschema.Draft202012Validator(root)


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")


def test_every_endpoint_is_described() -> None:
    assert SPEC["openapi"].startswith("3.1")
    described = {(p, m) for p, item in SPEC["paths"].items() for m in item}
    assert described == EXPECTED
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            assert op.get("summary") and op.get("operationId"), (path, method)
            assert "200" in op["responses"], (path, method)
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), path
            if path.startswith(("/rtc/", "/rtm/", "/rte/", "/chat/")):
                assert op["deprecated"] is True
                assert "400" in op["responses"]


def test_token_endpoints_declare_auth_and_errors() -> None:
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyAuth"]["in"] == "header" and schemes["apiKeyAuth"]["name"] == "X-API-Key"
    for path in ("/getToken", "/verifyToken", "/encryption", "/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/",
                 "/chat/app/"):
        op = next(iter(SPEC["paths"][path].values()))
        # either scheme, or none (auth is off unless configured)
        assert op["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}, {}]
        assert {"401", "403", "429", "503"} <= set(op["responses"])


def test_every_route_is_described() -> None:
    """The route table and the document list the same operations, each with the route's declared
    operation id, summary, tag and security, and every error response the pipeline can give on it."""
    described = {(p, m) for p, item in SPEC["paths"].items() for m in item}
    assert described == {(r.template, r.method.lower()) for r in ROUTES}
    assert len({r.operation_id for r in ROUTES}) == len(ROUTES)
    for route in ROUTES:
        op = SPEC["paths"][route.template][route.method.lower()]
        assert (op["operationId"], op["summary"], op["tags"]) == (route.operation_id, route.summary, [route.tag])
        assert ("security" in op and {} in op["security"]) == (route.guarded or route.template == "/metrics")
        assert [p["name"] for p in op.get("parameters", []) if p["in"] == "path"] == route.parameters
        for status in route.pipeline_errors:
            assert str(status) in op["responses"], (route.template, status)
        if route.sheddable and route.error_shape == "error":  # load shedding: the Unavailable response
            assert op["responses"]["503"] == {"$ref": "#/components/responses/Unavailable"}, route.template
        elif route.sheddable:  # a route with its own error shape documents its own overload example
            assert "overloaded" in op["responses"]["503"]["content"]["application/json"]["examples"], route.template
        if route.error_shape == "code":  # every answer of its own shape, pipeline errors included
            for status, response in op["responses"].items():
                if status != "200":
                    assert resolve(response)["content"]["application/json"]["schema"] == \
                        {"$ref": "#/components/schemas/CodeError"}, status


def test_every_operation_detail_is_a_route() -> None:
    """openapi.py's details are keyed by the routes' operation ids: none is left over."""
    assert set(openapi._operations()) == {route.operation_id for route in ROUTES}


def test_route_flags_give_the_pipeline_errors() -> None:
    """What a declaration's flags say the pipeline answers (and so the document lists)."""
    async def handler(request: Any) -> Any:
        raise AssertionError

    assert Route("GET", "/x", handler, "x", "", "t").pipeline_errors == (403,)
    assert Route("GET", "/x", handler, "x", "", "t", guarded=True).pipeline_errors == (401, 403, 429, 503)
    assert Route("POST", "/x", handler, "x", "", "t", sheddable=True).pipeline_errors == (400, 403, 408, 413, 415,
                                                                                        503)
    route = Route("GET", "/a/{b:[^/]*}/{c}/", handler, "x", "", "t")
    assert (route.template, route.parameters) == ("/a/{b}/{c}/", ["b", "c"])


def test_templates_are_the_routers() -> None:
    """A route's template (metrics, logs, the document's path) is aiohttp's canonical path."""
    async def handler(request: Any) -> Any:
        raise AssertionError

    router = web.UrlDispatcher()
    for route in ROUTES:
        resource = router.add_route(route.method, route.path, handler).resource
        assert resource is not None and resource.canonical == route.template


def test_all_refs_resolve() -> None:
    refs = [node["$ref"] for _, node in walk(SPEC) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/")
        resolve({"$ref": ref})  # KeyError if it points nowhere


def test_schemas_are_valid_json_schema() -> None:
    for schema in SPEC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def _media_examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    for where, node in walk(SPEC):
        if not (isinstance(node, dict) and "schema" in node and ("examples" in node or "example" in node)):
            continue
        if where.endswith("/parameters") or "/text~1" in where:
            continue
        if isinstance(node.get("examples"), dict):
            for k, ex in node["examples"].items():
                yield f"{where}/examples/{k}", node["schema"], ex["value"]
        if "example" in node and isinstance(node["schema"], dict) and node["schema"].get("type") != "string":
            yield f"{where}/example", node["schema"], node["example"]


def test_examples_match_their_schemas() -> None:
    checked = 0
    for where, schema, value in _media_examples():
        if "text/" in where:
            continue
        errors = list(validator_for(schema).iter_errors(value))
        assert not errors, f"{where}: {errors[0].message}"
        checked += 1
    assert checked >= 20


def test_spec_is_json_serialisable_and_cached() -> None:
    data = json.loads(openapi.spec_bytes(ROUTES))
    assert data == json.loads(json.dumps(SPEC))
    assert openapi.spec_bytes(ROUTES) is openapi.spec_bytes(ROUTES)


def test_docs_page_is_self_contained() -> None:
    html = docs_page.HTML.decode()
    # nothing loaded from another host: no src/href to a URL with a scheme or //
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    # no inline script or style: every <script> has a src, no style attribute or element
    assert len(re.findall(r"<script\b", html)) == len(re.findall(r'<script src="docs/static/[\w.-]+"></script>',
                                                                  html)) == 2
    assert "<style" not in html and "style=" not in html and not re.search(r"\son\w+\s*=", html)
    for ref in re.findall(r'(?:src|href)="docs/static/([^"]+)"', html):
        assert ref in docs_page.FILES, ref
    assert 'new URL("openapi.json", document.baseURI)' in docs_page.INIT_JS
    assert "validatorUrl: null" in docs_page.INIT_JS  # no badge from an outside validator
    assert "persistAuthorization: false" in docs_page.INIT_JS  # credentials never in localStorage
    directives = dict(d.strip().split(" ", 1) for d in docs_page.CSP.split(";"))
    assert directives == {
        "default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
        "connect-src": "'self'", "base-uri": "'none'", "form-action": "'none'", "frame-ancestors": "'none'",
    }


def test_swagger_ui_files_are_installed() -> None:
    """swagger-ui-py (the server extra) ships Swagger UI 5, which renders OpenAPI 3.1."""
    static = docs_page.swagger_ui_dir()
    assert static is not None, "swagger-ui-py is not installed (pip install -e '.[server]')"
    for name in docs_page.VENDORED:
        assert (static / name).is_file(), name
    version = re.search(rb'"(5\.\d+\.\d+)"', (static / "swagger-ui-bundle.js").read_bytes())
    assert version is not None, "not Swagger UI 5"
    assert set(SPEC["paths"]["/docs/static/{name}"]["get"]["parameters"][0]["schema"]["enum"]) == set(docs_page.FILES)


@pytest.mark.parametrize("header, gzip", [
    ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.5", True), ("GZIP", True), ("gzip;q=0", False),
    ("gzip;q=0.0", False), ("deflate", False), ("", False), ("*", False), ("x-gzip", False),
])
def test_accepts_gzip(header: str, gzip: bool) -> None:
    assert docs_page.accepts_gzip(header) is gzip


async def test_static_files_are_sent_gzipped_with_no_cache(aiohttp_client: Any) -> None:
    from tests.support.service import assert_no_cache, make_app

    c = await aiohttp_client(make_app())
    static = docs_page.swagger_ui_dir()
    assert static is not None
    plain = (static / "swagger-ui-bundle.js").read_bytes()
    packed = await c.get("/docs/static/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert int(packed.headers["Content-Length"]) < len(plain) // 3
    assert await packed.read() == plain  # decoded by the client
    identity = await c.get("/docs/static/swagger-ui-bundle.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in identity.headers and await identity.read() == plain
    for resp in (packed, identity):
        assert_no_cache(resp)
        assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    page = await c.get("/docs")
    assert_no_cache(page)
    assert page.headers["Content-Security-Policy"] == docs_page.CSP
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"


async def test_without_swagger_ui_installed(aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page still loads its initializer, which then says what is missing and links openapi.json."""
    from tests.support.service import make_app

    monkeypatch.setattr(docs_page, "swagger_ui_dir", lambda: None)
    monkeypatch.setattr(docs_page, "_cache", {})
    c = await aiohttp_client(make_app())
    resp = await c.get("/docs/static/swagger-ui-bundle.js")
    assert resp.status == 404 and "pip install swagger-ui-py" in (await resp.json())["error"]
    assert (await c.get("/docs")).status == 200
    init = await c.get("/docs/static/docs.js")
    assert init.status == 200 and "swagger-ui-py package installed" in await init.text()
