"""The OpenAPI document on its own: complete, internally consistent, its
schemas valid JSON Schema, its examples valid against them; and the /docs
page self-contained."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Iterator

import pytest

from agora_token_server import docs_page, openapi

jsonschema = pytest.importorskip("jsonschema")

SPEC = openapi.build_spec()

EXPECTED = {
    ("/ping", "get"), ("/healthz", "get"), ("/getToken", "post"), ("/verifyToken", "post"),
    ("/encryption", "get"), ("/metrics", "get"), ("/openapi.json", "get"), ("/docs", "get"),
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


def resolve(ref: str) -> Any:
    node: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


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
        assert {"bearerAuth": []} in op["security"] and {"apiKeyAuth": []} in op["security"]
        assert {"401", "403", "429"} <= set(op["responses"])


def test_all_refs_resolve() -> None:
    refs = [node["$ref"] for _, node in walk(SPEC) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/")
        resolve(ref)


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
    data = json.loads(openapi.spec_bytes())
    assert data == json.loads(json.dumps(SPEC))
    assert openapi.spec_bytes() is openapi.spec_bytes()


def test_docs_page_is_self_contained() -> None:
    html = docs_page.HTML.decode()
    # nothing loaded from another host: no src/href to a URL with a scheme or //
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert 'fetch("openapi.json"' in html
    assert ".innerHTML" not in html  # DOM + textContent only
    for block in (docs_page.SCRIPT, docs_page.STYLE):
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in docs_page.CSP
        assert block in html
    assert "default-src 'none'" in docs_page.CSP and "connect-src 'self'" in docs_page.CSP
