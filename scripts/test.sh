#!/usr/bin/env bash
# The project's whole test suite: formatting, lints, then every test.
# This is the README's test command and what CI (.ci/run) runs.
#
# Needs Python 3 with `venv` and network access to PyPI (scripts/test-deps.sh installs
# Microsoft's Python clients the sandbox is checked against) and to crates.io. Tests that
# cannot run here (a missing Graph metadata file) are listed at the end, never skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "error: the test suite needs Python 3 with venv (Debian/Ubuntu: apt-get install python3-venv)" >&2
  exit 1
fi
scripts/test-deps.sh
cargo fmt --all --check
cargo clippy --all-targets --locked -- -D warnings
skips="$(mktemp)"
trap 'rm -f "$skips"' EXIT
MSSP_TEST_SKIPS="$skips" INSTA_UPDATE=no cargo test --locked
if [ -s "$skips" ]; then
  echo "skipped ($(wc -l <"$skips")):"
  sed 's/^/  /' "$skips"
else
  echo "nothing skipped"
fi
