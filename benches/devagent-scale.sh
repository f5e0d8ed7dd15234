#!/usr/bin/env bash
# Writes per second, the wake-up of 10,000 blocked watchers and a catalog of
# 100,000 instances (issue 18): raises the open-file limit (the agent the
# bench spawns inherits it) and runs `cargo bench -p devagent --bench scale`.
# DEVAGENT_BIN=<path> measures another build (e.g. an older commit's) the
# same way; SCALE_RESULTS=<file> writes the table elsewhere.
# Results: benches/results/devagent-scale.md
set -euo pipefail
cd "$(dirname "$0")/.."

want=65536
if ! ulimit -n "$want" 2>/dev/null; then
    hard=$(ulimit -Hn)
    ulimit -n "$hard"
    echo "devagent-scale: could not raise the open-file limit to $want; using the hard limit $hard" >&2
fi
echo "devagent-scale: open-file limit $(ulimit -n)" >&2
exec cargo bench -p devagent --features jemalloc --bench scale "$@"
