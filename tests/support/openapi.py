"""The service's OpenAPI document as the tests read it."""

from __future__ import annotations

from typing import Any

from agora_token_server.openapi import build_spec
from agora_token_server.routes import ROUTES

SPEC = build_spec(ROUTES)


def resolve(node: Any) -> Any:
    """``node`` with its ``$ref`` (and the ref's own, and so on) followed
    within :data:`SPEC`; a ref that points nowhere raises ``KeyError``."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
