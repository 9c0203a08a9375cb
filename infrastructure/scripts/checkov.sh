#!/usr/bin/env bash
# Static IaC scan with checkov (PyPI). checkov pins many libraries, so it lives in its own venv,
# .venv-tools/, created on first use. Every finding is fixed or skipped in the HCL with
# `#checkov:skip=CKV_...:reason` inside the resource block.
set -euo pipefail
cd "$(dirname "$0")/../.."
python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv-tools/bin/checkov ]; then
  "$python_bin" -m venv .venv-tools
  .venv-tools/bin/pip install --quiet "checkov==3.3.30"
fi
exec .venv-tools/bin/checkov -d infrastructure --framework terraform --quiet --compact \
  --skip-download "$@"
