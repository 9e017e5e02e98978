"""Write docs/reference.md: every public name of ``agora_token`` (its
``__all__``) and of the ``agora_token.compat`` modules, with its signature and
the first line of its docstring, read from the code itself (so the page cannot
drift from it: tests/test_docs.py regenerates it and compares).

    python scripts/api_reference.py            # rewrite docs/reference.md
    python scripts/api_reference.py --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reference.md"

HEADER = """# API reference

Every public name of `agora_token` (its `__all__`) and of the modules of `agora_token.compat`,
with its signature and the first line of its docstring. Written by `scripts/api_reference.py`
from the code itself; tests/test_docs.py checks that it is current. How to use them:
[library.md](library.md); the migration from Agora's own modules: [migration.md](migration.md).
"""


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return ""
    return value if isinstance(value, str) else inspect.formatannotation(value)


def signature(obj: Any) -> str:
    """``(a: int, b: str = 'x', *, c: int = 1) -> str``, annotations unquoted."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    parts: list[str] = []
    star_done = False
    slash_pending = False
    for p in sig.parameters.values():
        if p.kind is p.POSITIONAL_ONLY:
            slash_pending = True
        elif slash_pending:
            parts.append("/")
            slash_pending = False
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        ann = _annotation(p.annotation)
        if ann:
            text += f": {ann}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}" if ann else f"={p.default!r}"
        parts.append(text)
    if slash_pending:
        parts.append("/")
    ret = _annotation(sig.return_annotation)
    return f"({', '.join(parts)})" + (f" -> {ret}" if ret and ret != "None" else "")


def _own_doc(obj: Any) -> str:
    """The docstring ``obj`` has itself (not one inherited from ``str`` or ``Enum``)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public callables and properties defined on ``cls`` itself, in source order."""
    for name, value in cls.__dict__.items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, (staticmethod, classmethod)):
            yield name, value.__func__
        elif isinstance(value, property) or inspect.isfunction(value):
            yield name, value


def _class(name: str, cls: type, level: str = "###") -> list[str]:
    out = [f"{level} `{name}`", ""]
    if issubclass(cls, enum.Enum):
        members = ", ".join(f"`{m.name}` = {m.value!r}" for m in cls)  # type: ignore[var-annotated]
        out += [f"{_own_doc(cls) or 'An enumeration.'}", "", f"Members: {members}.", ""]
        return out
    if issubclass(cls, BaseException):
        bases = ", ".join(f"`{b.__name__}`" for b in cls.__bases__)
        out += [f"`class {name}({bases.replace('`', '')})`: {_own_doc(cls)}", ""]
        return out
    out += [f"`{name}{signature(cls)}`", ""]
    doc = _own_doc(cls)
    if doc:
        out += [doc, ""]
    constants = [(k, v) for k, v in cls.__dict__.items()
                 if not k.startswith("_") and isinstance(v, (int, str)) and not isinstance(v, bool)]
    if constants:
        out += ["Constants: " + ", ".join(f"`{k}` = {v!r}" for k, v in constants) + ".", ""]
    for mname, member in _members(cls):
        if isinstance(member, property):
            out.append(f"- `{mname}` (property): {_own_doc(member)}".rstrip(": "))
        else:
            line = f"- `{mname}{signature(member)}`"
            doc = _own_doc(member)
            out.append(f"{line}: {doc}" if doc else line)
    nested = [(k, v) for k, v in cls.__dict__.items() if not k.startswith("_") and isinstance(v, type)]
    for nname, ncls in nested:
        out.append(f"- nested class `{nname}{signature(ncls)}`" + (f": {_own_doc(ncls)}" if _own_doc(ncls) else ""))
    if out[-1] != "":
        out.append("")
    return out


def _entry(name: str, obj: Any) -> list[str]:
    if isinstance(obj, type):
        return _class(name, obj)
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        doc = _own_doc(obj)
        return [f"### `{name}`", "", f"`{name}{signature(obj)}`", "", *([doc, ""] if doc else [])]
    if isinstance(obj, (str, int)):
        return [f"### `{name}`", "", f"A {type(obj).__name__}: {_constant_note(name)}", ""]
    return [f"### `{name}`", "", f"`{name} = {obj!r}`".replace("agora_token.", ""), ""]


def _constant_note(name: str) -> str:
    return {
        "BACKEND": '`"cython"` when the compiled core is active, `"python"` for the pure-Python core.',
        "__version__": "the package version.",
    }.get(name, "a constant.")


def _groups(module: ModuleType) -> list[tuple[str, list[str]]]:
    names = list(module.__all__)
    def kind(n: str) -> str:
        obj = getattr(module, n)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return "Errors"
        if isinstance(obj, type) and issubclass(obj, enum.Enum):
            return "Constants (enums)"
        if isinstance(obj, type) and n.endswith("Builder"):
            return "Builders (Agora's names)"
        if isinstance(obj, type):
            return "Tokens and services"
        if inspect.isfunction(obj):
            return "Functions"
        return "Module attributes"
    order = ["Functions", "Builders (Agora's names)", "Tokens and services", "Constants (enums)", "Errors",
             "Module attributes"]
    return [(g, [n for n in names if kind(n) == g]) for g in order if any(kind(n) == g for n in names)]


def compat_modules() -> list[ModuleType]:
    try:
        package = importlib.import_module("agora_token.compat")
    except ImportError:
        return []
    mods = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"agora_token.compat.{info.name}"))
    return mods


def _public(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", module.__name__) == module.__name__
                 and not isinstance(v, ModuleType)]
    return list(names)


def render() -> str:
    import agora_token

    out = [HEADER]
    out += ["## `agora_token`", ""]
    for group, names in _groups(agora_token):
        out += [f"### {group}", ""]
        for n in names:
            out += [line.replace("### ", "#### ", 1) if line.startswith("### ") else line
                    for line in _entry(n, getattr(agora_token, n))]
    mods = compat_modules()
    if mods:
        out += ["## `agora_token.compat`", "",
                "One module for each of Agora's Python token modules, with their names, signatures and "
                "positional orders; each calls the library's own builders.", ""]
        for mod in mods:
            out += [f"### `{mod.__name__}`", ""]
            doc = _own_doc(mod)
            if doc:
                out += [doc, ""]
            for n in _public(mod):
                obj = getattr(mod, n)
                if isinstance(obj, (int, str)) and not isinstance(obj, bool):
                    out.append(f"- `{n}` = {obj!r}")
                elif isinstance(obj, type):
                    out += [""] + [line.replace("### ", "#### ", 1) if line.startswith("### ") else line
                                   for line in _class(n, obj)]
                elif callable(obj):
                    out.append(f"- `{n}{signature(obj)}`")
            if out[-1] != "":
                out.append("")
    text = "\n".join(out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/reference.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python scripts/api_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
