"""docs/reference.md is written by scripts/api_reference.py from the code:
it must be current, and name every public name of ``agora_token``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import agora_token

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("api_reference", ROOT / "scripts" / "api_reference.py")
assert _spec is not None and _spec.loader is not None
api_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_reference)


def test_reference_is_current() -> None:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert text == api_reference.render(), "docs/reference.md is out of date: run python scripts/api_reference.py"


def test_every_public_name_has_an_entry() -> None:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    missing = [n for n in agora_token.__all__ if f"#### `{n}`" not in text]
    assert not missing


def test_every_compat_module_has_a_section() -> None:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    for mod in api_reference.compat_modules():
        assert f"### `{mod.__name__}`" in text
