#!/usr/bin/env bash
# gRPC figures (issue 20) on release builds of grpc-worker, as processes:
#   1. unary calls/s through dcy's balanced channel vs fixed endpoints,
#      side by side in one run (target: within 5 %),
#   2. failover: SIGKILL one of three workers under load (failed calls,
#      kill → discovery dropped it, retries).
# Writes benches/results/grpc.md and prints it.
#
# Usage: benches/grpc.sh
# Settings: GRPC_BENCH_WINDOWS=15 GRPC_BENCH_KILLS=5
set -euo pipefail
cd "$(dirname "$0")/.."
echo "grpc-bench: /proc/loadavg before the build: $(cat /proc/loadavg)" >&2
cargo bench -p grpc-worker --bench grpc
