#!/usr/bin/env bash
# Static checks of the CI configuration, which only runs on GitHub:
#   1. .github/workflows/*.yml against the GitHub workflow schema
#      (SchemaStore's, as vendored by check-jsonschema);
#   2. [tool.cibuildwheel] in pyproject.toml against cibuildwheel's own
#      schema, from the cibuildwheel version that wheels.yml pins;
#   3. for each job of wheels.yml's build matrix, the builds that this
#      cibuildwheel selects for the job's platform, archs and skip
#      (--print-build-identifiers, no build): their number must be the job's
#      EXPECTED_WHEELS, with every CPython from 3.9 to 3.14 and 3.14t.
# The tools come from PyPI into a venv kept in ${XDG_CACHE_HOME:-~/.cache}/agora-token/ci-tools
# (about 15 s the first time, 5 s after). Exits non-zero on any finding.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORKFLOW="$ROOT/.github/workflows/wheels.yml"
CIBW_VERSION=$(sed -n 's/.*uses: pypa\/cibuildwheel@v\([0-9][0-9.]*\).*/\1/p' "$WORKFLOW" | head -n 1)
[ -n "$CIBW_VERSION" ] || { echo "check_ci_config: FAIL: no pypa/cibuildwheel@vX.Y.Z in $WORKFLOW" >&2; exit 1; }
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/agora-token/ci-tools-cibw$CIBW_VERSION"
if [ ! -x "$TOOLS/bin/check-jsonschema" ] || [ ! -x "$TOOLS/bin/cibuildwheel" ]; then
  echo "==> tools venv $TOOLS (cibuildwheel==$CIBW_VERSION, check-jsonschema, pyyaml)"
  rm -rf "$TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check \
    "cibuildwheel==$CIBW_VERSION" check-jsonschema pyyaml > "$TOOLS.log" 2>&1 \
    || { tail -n 20 "$TOOLS.log" >&2; rm -rf "$TOOLS"; echo "check_ci_config: FAIL: could not install the tools" >&2; exit 1; }
fi
cd "$ROOT"
echo "==> GitHub workflow schema: .github/workflows/*.yml"
"$TOOLS/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
exec "$TOOLS/bin/python" "$ROOT/scripts/check_ci_config.py"
