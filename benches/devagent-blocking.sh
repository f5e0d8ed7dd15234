#!/usr/bin/env bash
# Start-up and 10,000-blocking-query figures of devagent:
# raises the open-file limit (the agent the bench spawns inherits it) and runs
# `cargo bench -p devagent --bench agent`. Results: benches/results/devagent-agent.md
set -euo pipefail
cd "$(dirname "$0")/.."

want=65536
if ! ulimit -n "$want" 2>/dev/null; then
    # Without the privilege to raise the hard limit, go as high as it allows.
    hard=$(ulimit -Hn)
    ulimit -n "$hard"
    echo "devagent-blocking: could not raise the open-file limit to $want; using the hard limit $hard" >&2
fi
echo "devagent-blocking: open-file limit $(ulimit -n)" >&2
exec cargo bench -p devagent --features jemalloc --bench agent "$@"
