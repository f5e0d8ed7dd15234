#!/usr/bin/env bash
# dcy's figures: pick() against HTTP and DNS (criterion), change → subscriber
# latency, 1,000 watched services (CPU, RSS, blocking queries) and
# start → passing. Builds the release devagent the figures bench spawns,
# raises the open-file limit (1,000 blocking queries hold 1,000 sockets),
# runs both benches and prints the results:
#   benches/results/dcy-pick.md, benches/results/dcy-figures.md,
#   benches/results/dcy-hosts.md (memory over 1,000,000 distinct URL host names)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "dcy-bench: 1-min load average before: $(cut -d' ' -f1 /proc/loadavg)" >&2
cargo build --profile bench -p devagent --features devagent/jemalloc
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
echo "dcy-bench: open-file limit $(ulimit -n)" >&2

cargo bench -p dcy --bench pick "$@"
cargo bench -p dcy --bench figures
cargo bench -p dcy --bench hosts

echo "dcy-bench: 1-min load average after: $(cut -d' ' -f1 /proc/loadavg)" >&2
cat benches/results/dcy-pick.md
echo
cat benches/results/dcy-figures.md
echo
cat benches/results/dcy-hosts.md
