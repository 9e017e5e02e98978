"""Benchmark results into the docs: a benchmark run with ``--markdown`` rewrites
its section of docs/benchmarks.md (between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``), with the date, the machine and the command, so that
no number in the docs is typed by hand."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

__all__ = ["machine", "write_section"]

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def write_section(name: str, command: str, body: str, path: Path = DOC) -> None:
    """Replace the ``name`` section of ``path`` with ``body`` plus when, where and how it was measured."""
    text = path.read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    stamp = f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {machine()}, with `{command}`."
    section = f"{begin}\n{stamp}\n\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {begin} ... {end} section to write into")
    path.write_text(pattern.sub(lambda _: section, text))
