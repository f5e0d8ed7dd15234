#!/usr/bin/env bash
# Figures of the messaging mode (issue 19), on the real release binaries:
#   4. readings/s through sensor → worker → app and end-to-end latency
#      p50/p99, over NATS JetStream and over HTTP in the same run,
#   5. messages lost and doubled over 5 worker kills and 2 broker-node
#      kills, and the clients' reconnection time after a node kill.
# Builds devagent, sensor, worker and demo in release, runs figures 4 and 5
# of `cargo bench --profile release -p app --bench examples` and writes
# benches/results/messaging.md (with /proc/loadavg before and after).
#
# Usage: benches/messaging.sh
# Settings (environment): EXAMPLES_BENCH_NATS_READINGS=20000
#   EXAMPLES_BENCH_NATS_RATE=500 EXAMPLES_BENCH_CONCURRENCY=8
#   EXAMPLES_BENCH_MAX_LOAD=3 EXAMPLES_BENCH_LOAD_WAIT_SECS=600
# Needs nats-server (apt-get install nats-server).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "messaging-bench: /proc/loadavg before the build: $(cat /proc/loadavg)" >&2
cargo build --release -p devagent -p sensor -p worker -p demo
export EXAMPLES_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
export EXAMPLES_BENCH_ONLY=4,5
before=$(cat /proc/loadavg)
out=$(mktemp)
# The release profile: the binaries' build is shared (the bench profile would build
# everything a second time).
cargo bench --profile release -p app --bench examples | tee "$out"
after=$(cat /proc/loadavg)
{
    echo "# Messaging mode: NATS JetStream against HTTP, and under kills"
    echo
    echo "\`benches/messaging.sh\` at commit $(git rev-parse --short HEAD), $(nproc) cores shared with other builds;"
    echo "/proc/loadavg before: $before; after: $after."
    sed -n '/^# Example services/,$p' "$out" | tail -n +2
} > benches/results/messaging.md
rm -f "$out"
echo "messaging-bench: /proc/loadavg after: $after" >&2
cat benches/results/messaging.md
