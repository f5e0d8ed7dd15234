#!/usr/bin/env bash
# The cost of discovery per request in instructions, which the machine's
# noise does not change: the `inprocess` bench (one process: devagent, a tiny
# server registered as `w`, 8 callers on 2 threads) run under callgrind once
# with every request through dcy's HTTP client (`GET http://w/x`) and once
# with plain reqwest to the fixed address, the same number of requests each.
# User-space instructions only (the kernel's work is the same requests on the
# same connections either way). Needs valgrind.
#
# Usage: benches/discovery-instructions.sh      (INPROCESS_BLOCKS=2: 60,000 requests)
# Writes benches/results/discovery-instructions.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }

bin=$(cargo bench -p app --bench inprocess --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*inprocess-[0-9a-f]*\)).*/\1/p' | tail -1)
[[ -x $bin ]] || { echo "no inprocess bench binary found" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

declare -A ir requests
for side in discovery fixed; do
    INPROCESS_ONLY=$side valgrind --tool=callgrind --callgrind-out-file="$out/$side.cg" \
        "$bin" --bench >"$out/$side.log" 2>&1
    ir[$side]=$(sed -n 's/^summary: //p' "$out/$side.cg")
    requests[$side]=$(sed -n 's/^inprocess: .* only: \([0-9]*\) requests$/\1/p' "$out/$side.log")
    echo "discovery-instructions: $side: ${ir[$side]} instructions, ${requests[$side]} requests" >&2
done

commit=$(git rev-parse --short HEAD)
python3 - "${ir[discovery]}" "${ir[fixed]}" "${requests[discovery]}" "$commit" <<'PY' | tee benches/results/discovery-instructions.md
import sys
a, b, n, commit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print("# Discovery's cost per request, in instructions\n")
print(f"`benches/discovery-instructions.sh` at commit {commit}: the `inprocess` bench under callgrind, "
      f"{n:,} requests each way (a warm-up block included on both sides), user-space instructions of the whole process "
      "(the callers, dcy or reqwest, hyper, the server, devagent).\n")
print("| Side | Instructions | Per request |")
print("|---|---|---|")
print(f"| dcy's HTTP client, `GET http://w/x` | {a:,} | {a / n:,.0f} |")
print(f"| plain reqwest, `GET http://127.0.0.1:<port>/x` | {b:,} | {b / n:,.0f} |")
print(f"| difference | {a - b:+,} | **{(a - b) / n:+,.0f} ({(a / b - 1) * 100:+.1f} %)** |")
PY
