#!/usr/bin/env bash
# Release benchmarks (issue 15): no-op plan at 100 / 1,000 / 10,000 tenants and a fresh apply of
# one customer, the sandbox out of process with 50 ms latency. Prints a Markdown table.
#   scripts/bench.sh                 # 100 1000 10000
#   scripts/bench.sh 100 1000        # chosen tenant counts
#   MSSP_BENCH_BIN=target/debug/mssp scripts/bench.sh 100   # another build (say so in the figures)
# Options after the counts go to scripts/bench.py (--latency-ms, --parallelism, --skip-apply).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${MSSP_BENCH_BIN:-target/release/mssp}"
if [ -z "${MSSP_BENCH_BIN:-}" ]; then
  cargo build --release --bin mssp
fi
exec python3 scripts/bench.py --bin "$BIN" "$@"
