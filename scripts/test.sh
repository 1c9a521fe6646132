#!/usr/bin/env bash
# The project's whole test suite: formatting, lints, then every test.
# This is the README's test command and what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/test-deps.sh ]; then
  scripts/test-deps.sh
fi
cargo fmt --all --check
cargo clippy --all-targets --locked -- -D warnings
INSTA_UPDATE=no cargo test --locked
