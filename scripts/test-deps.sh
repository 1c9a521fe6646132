#!/usr/bin/env bash
# Installs what the test suite needs beyond Cargo: the Python packages it drives the sandbox
# with (Microsoft's own clients) into .venv-test at the repository root, and Debian's chromium
# for the report's browser test. Idempotent; safe to run before every CI run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-test"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check msal msgraph-sdk aiosmtpd
"$venv/bin/python" -c "import msal, msgraph, aiosmtpd; print('test deps ok:', msal.__version__)"
"$root/scripts/install-chromium.sh"
