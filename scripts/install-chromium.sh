#!/usr/bin/env bash
# Installs Debian's `chromium` for the report's browser test (tests/it/report_page.rs) when no
# Chromium is on the machine. Idempotent. Needs root (CI and the dev machines run as root) or
# sudo; fails loudly otherwise, and so does the test that needs it.
set -euo pipefail
for b in "${MSSP_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    if [ -n "$b" ] && command -v "$b" > /dev/null 2>&1; then
        echo "chromium ok: $(command -v "$b")"
        exit 0
    fi
done
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo > /dev/null; then sudo="sudo -n"; else
    echo "install-chromium: not root and no sudo; install Debian's chromium package by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium > /dev/null
command -v chromium > /dev/null
echo "chromium installed: $(command -v chromium)"
