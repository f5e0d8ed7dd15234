#!/usr/bin/env bash
# Issue 14's figures of devagent: time per EDNS SRV query at 10 to 10,000
# instances, HTTP p99 under a DNS flood, peak RSS with 50 × 40 MB txn bodies,
# SIGTERM → exit under all of it. Raises the open-file limit (the agent the
# bench spawns inherits it) and runs `cargo bench -p devagent --bench limits`.
# Results: benches/results/devagent-limits.md
set -euo pipefail
cd "$(dirname "$0")/.."

want=65536
if ! ulimit -n "$want" 2>/dev/null; then
    hard=$(ulimit -Hn)
    ulimit -n "$hard"
    echo "devagent-limits: could not raise the open-file limit to $want; using the hard limit $hard" >&2
fi
exec cargo bench -p devagent --features jemalloc --bench limits "$@"
