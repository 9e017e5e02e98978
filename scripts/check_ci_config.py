"""The cibuildwheel half of scripts/check_ci_config.sh (run with its tools venv's
Python: cibuildwheel, jsonschema via check-jsonschema, pyyaml).

* ``[tool.cibuildwheel]`` against the schema shipped with this cibuildwheel;
* for each job of wheels.yml's ``build_wheels`` matrix, ``cibuildwheel
  --print-build-identifiers`` with the job's platform, ``CIBW_ARCHS`` and
  ``CIBW_SKIP``: as many builds as the job's ``EXPECTED_WHEELS``, one per
  CPython 3.9 ... 3.14 plus 3.14t, and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
WANTED = ["cp39", "cp310", "cp311", "cp312", "cp313", "cp314", "cp314t"]


def platform_of(runner: str) -> str:
    for prefix, platform in (("ubuntu", "linux"), ("macos", "macos"), ("windows", "windows")):
        if runner.startswith(prefix):
            return platform
    raise SystemExit(f"check_ci_config: FAIL: unknown runner {runner!r}")


def main() -> int:
    problems: list[str] = []
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    schema = json.loads(resources.files("cibuildwheel").joinpath("resources/cibuildwheel.schema.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    for e in errors:
        problems.append(f"[tool.cibuildwheel] {'.'.join(map(str, e.path)) or '(top)'}: {e.message}")
    print(f"==> [tool.cibuildwheel] against cibuildwheel's schema: {len(errors)} error(s)")

    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["build_wheels"]
    expected = int(job["env"]["EXPECTED_WHEELS"])
    step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pypa/cibuildwheel@"))
    skip_template = step["env"]["CIBW_SKIP"]
    print(f"==> builds per job of wheels.yml (cibuildwheel {step['uses'].split('@v')[1]}, "
          f"EXPECTED_WHEELS={expected})")
    for entry in job["strategy"]["matrix"]["include"]:
        platform = platform_of(entry["os"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
        env["CIBW_ARCHS"] = entry["arch"]
        env["CIBW_SKIP"] = skip_template.replace("${{ matrix.skip }}", entry["skip"]).strip()
        proc = subprocess.run([sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform",
                               platform], cwd=str(ROOT), env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            problems.append(f"{entry['name']}: cibuildwheel failed: {proc.stderr.strip()[-500:]}")
            continue
        ids = proc.stdout.split()
        pythons = [i.split("-")[0] for i in ids]
        print(f"    {entry['name']:<18} {len(ids)}: {' '.join(ids)}")
        if len(ids) != expected:
            problems.append(f"{entry['name']}: {len(ids)} builds, the job expects {expected}")
        if sorted(pythons) != sorted(WANTED):
            problems.append(f"{entry['name']}: Pythons {pythons}, wanted each of {WANTED} once")
    for p in problems:
        print(f"check_ci_config: FAIL: {p}", file=sys.stderr)
    if not problems:
        print("check_ci_config: OK (statically: the workflow itself runs on GitHub only)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
