#!/usr/bin/env bash
# templater's figures with 1,000 templates over 100 dependencies: blocking
# queries held at devagent, change → file latency, RSS and idle CPU, and
# command runs per burst of changes with a shared command and `wait`.
# Builds the release templater and devagent, waits (bounded) for the machine
# to quieten, runs `cargo bench -p templater --bench templater` and prints
# benches/results/templater.md.
#
#   MAX_LOAD=3           start when the 1-minute load average is below this...
#   LOAD_WAIT_SECS=600   ...or after this long anyway (the load goes in the results)
#   TEMPLATER_BENCH_CHANGES, TEMPLATER_BENCH_BURSTS, TEMPLATER_BENCH_DIR,
#   TEMPLATER_BENCH_TMPFS, DEVAGENT_BIN: see templater/benches/templater.rs
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --profile bench -p templater -p devagent --features devagent/jemalloc
# 100 blocking queries, the bench's inotify and a few files: the default limit is plenty,
# but raise it as the other benches do.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

max_load=${MAX_LOAD:-3}
wait_secs=${LOAD_WAIT_SECS:-600}
for ((waited = 0; waited < wait_secs; waited += 10)); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" -v m="$max_load" 'BEGIN { exit !(l < m) }'; then
        break
    fi
    echo "templater-bench: 1-min load $load >= $max_load; waiting (${waited}s of at most ${wait_secs}s)" >&2
    sleep 10
done
echo "templater-bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

cargo bench -p templater --bench templater
echo "templater-bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cat benches/results/templater.md
