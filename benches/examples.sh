#!/usr/bin/env bash
# Figures of the example services, on the real release binaries as processes:
#   1. app throughput through dcy discovery vs a fixed address, side by side in
#      one run (and in interleaved separate runs),
#   2. failover: SIGKILL one of three workers under load (failed rounds,
#      retry window, time until discovery drops it vs the check interval),
#   3. the demo from the command to `every service passing`, 5 times.
# Builds devagent, sensor, worker and demo in release, runs
# `cargo bench -p app --bench examples` and prints benches/results/examples.md.
#
# Usage: benches/examples.sh
# Settings (environment, see examples/app/benches/examples.rs):
#   EXAMPLES_BENCH_RUNS=15 EXAMPLES_BENCH_RUN_SECS=1 EXAMPLES_BENCH_CONCURRENCY=8
#   EXAMPLES_BENCH_TRIALS=5 EXAMPLES_BENCH_DEMO_RUNS=5
#   EXAMPLES_BENCH_MAX_LOAD=3 EXAMPLES_BENCH_LOAD_WAIT_SECS=600
#   EXAMPLES_BENCH_ONLY=1,3 (only these figures; printed, results file left alone)
# The machine's cores are shared: the bench waits (bounded) for the 1-minute
# load average to drop to EXAMPLES_BENCH_MAX_LOAD before each figure and
# records /proc/loadavg in the table.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "examples-bench: /proc/loadavg before the build: $(cat /proc/loadavg)" >&2
cargo build --profile bench -p devagent -p sensor -p worker -p demo --features devagent/jemalloc

commit=$(git rev-parse --short HEAD)
# The working tree is shared: uncommitted changes in what the binaries are
# built from make the commit approximate, so the results name them.
dirty=$(git status --porcelain -- Cargo.toml Cargo.lock dcy devagent gocompat templater examples |
    awk '{print $NF}' | tr '\n' ' ')
if [[ -n $dirty ]]; then
    commit="$commit (dirty)"
fi
export EXAMPLES_BENCH_DIRTY=${dirty% }
export EXAMPLES_BENCH_COMMIT=$commit
export EXAMPLES_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"

cargo bench -p app --bench examples

echo "examples-bench: /proc/loadavg after: $(cat /proc/loadavg)" >&2
cat benches/results/examples.md
