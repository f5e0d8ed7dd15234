#!/usr/bin/env bash
# HTTP and DNS throughput of devagent, measured with wrk and dnsperf.
#
# Builds the release binary, starts `devagent agent -dev` on free ports,
# registers 10 instances of service `x` (passing TTL checks) and a few other
# services, then runs
#   wrk -t2 -c64 -d10s http://$HTTP/v1/health/service/x?passing
#   dnsperf -s 127.0.0.1 -p $DNSPORT -d <queries> -l 10 -c 8 -Q 100000
# and writes a Markdown table to benches/results/devagent-load.md.
#
# Usage: benches/devagent-load.sh            (DURATION=10 seconds per run)
# The load generators run on the same machine as the agent and share its cores.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
RESULTS=benches/results/devagent-load.md
HTTP_TARGET=20000
DNS_TARGET=20000

die() {
    echo "devagent-load: $*" >&2
    exit 1
}

for tool in cargo curl wrk dnsperf dig timeout awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

cargo build --profile bench -p devagent --features devagent/jemalloc
BIN="${CARGO_TARGET_DIR:-target}/release/devagent"
[[ -x $BIN ]] || die "no binary at $BIN"

WORK=$(mktemp -d)
AGENT_PID=
cleanup() {
    if [[ -n $AGENT_PID ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$AGENT_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$AGENT_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" agent -dev -http-port=0 -dns-port=0 -log-level=warn >"$WORK/agent.out" 2>"$WORK/agent.err" &
AGENT_PID=$!

# The one line with the ports it picked (at most 10 s).
line=
for _ in $(seq 100); do
    line=$(grep -m1 '^devagent listening' "$WORK/agent.out" || true)
    [[ -n $line ]] && break
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited: $(cat "$WORK/agent.err")"
    sleep 0.1
done
[[ -n $line ]] || die "the agent printed no listening line within 10 s"
HTTP=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")
DNS=$(sed -n 's/.* dns=\([^ ]*\).*/\1/p' <<<"$line")
DNSPORT=${DNS##*:}
[[ -n $HTTP && -n $DNSPORT ]] || die "cannot parse $line"
echo "devagent-load: agent pid $AGENT_PID http=$HTTP dns=$DNS" >&2

register() {
    curl -sf -X PUT "http://$HTTP/v1/agent/service/register" -d "$1" >/dev/null ||
        die "registering $1 failed"
}
for i in $(seq 0 9); do
    register "{\"Name\":\"x\",\"ID\":\"x$i\",\"Address\":\"127.0.0.$((i + 1))\",\"Port\":8000,\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}"
done
for i in 0 1 2; do
    register "{\"Name\":\"y\",\"ID\":\"y$i\",\"Address\":\"127.0.1.$((i + 1))\",\"Port\":9000,\"Tags\":[\"v1\"],\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}"
done
register '{"Name":"web","ID":"web0","Address":"127.0.2.1","Port":80,"Tags":["primary"]}'
register '{"Name":"db","ID":"db0","Address":"127.0.3.1","Port":5432,"Check":{"TTL":"10m","Status":"critical"}}'

# Sanity: both interfaces answer with the 10 instances of x.
passing=$(curl -sf "http://$HTTP/v1/health/service/x?passing" | grep -o '"ServiceName": *"x"' | wc -l)
srv=$(dig @127.0.0.1 -p "$DNSPORT" +short +tries=1 +time=2 x.service.consul SRV | grep -c . || true)
echo "devagent-load: /v1/health/service/x?passing has $passing service entries; SRV x has $srv records" >&2
[[ $passing -ge 10 ]] || die "expected 10 passing instances of x, saw $passing"
[[ $srv -ge 1 ]] || die "no SRV records for x.service.consul"

# CPU seconds the agent has used so far (utime + stime).
ticks=$(getconf CLK_TCK)
agent_cpu() {
    awk -v t="$ticks" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$AGENT_PID/stat"
}
rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$AGENT_PID/status"
}
cores=$(nproc)
load_before=$(awk '{ print $1 }' /proc/loadavg)

# HTTP: wrk.
url="http://$HTTP/v1/health/service/x?passing"
size=$(curl -sf -o /dev/null -w '%{size_download}' "$url")
echo "devagent-load: wrk -t2 -c64 -d${DURATION}s --latency $url" >&2
cpu0=$(agent_cpu)
timeout $((DURATION + 30)) wrk -t2 -c64 -d"${DURATION}s" --latency "$url" | tee "$WORK/wrk.out" >&2
cpu1=$(agent_cpu)
rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.out")
[[ -n $rps ]] || die "no Requests/sec in the wrk output"
wrk_p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.out")
wrk_p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.out")
wrk_bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$WORK/wrk.out")
wrk_errors=$(grep -m1 'Socket errors:' "$WORK/wrk.out" || true)
http_cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v d="$DURATION" 'BEGIN { printf "%.2f", (b - a) / d }')
http_rss=$(rss_mib)

# DNS: dnsperf.
queries="$WORK/queries.txt"
for _ in $(seq 250); do
    printf '%s\n' 'x.service.consul SRV' '_x._tcp.service.consul SRV' 'y.service.consul SRV' 'x.service.consul A'
done >"$queries"
echo "devagent-load: dnsperf -s 127.0.0.1 -p $DNSPORT -d $queries -l $DURATION -c 8 -Q 100000" >&2
cpu0=$(agent_cpu)
timeout $((DURATION + 30)) dnsperf -s 127.0.0.1 -p "$DNSPORT" -d "$queries" -l "$DURATION" -c 8 -Q 100000 |
    tee "$WORK/dnsperf.out" >&2
cpu1=$(agent_cpu)
qps=$(awk '/Queries per second:/ { print $4 }' "$WORK/dnsperf.out")
[[ -n $qps ]] || die "no 'Queries per second' in the dnsperf output"
dns_lost=$(awk '/Queries lost:/ { print $3, $4 }' "$WORK/dnsperf.out")
dns_codes=$(sed -n 's/^ *Response codes: *//p' "$WORK/dnsperf.out")
dns_latency=$(awk '/Average Latency/ { printf "%.3f ms", $4 * 1000 }' "$WORK/dnsperf.out")
dns_cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v d="$DURATION" 'BEGIN { printf "%.2f", (b - a) / d }')
dns_rss=$(rss_mib)

# Stop with SIGTERM (at most 10 s).
kill -TERM "$AGENT_PID"
for _ in $(seq 100); do
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$AGENT_PID" 2>/dev/null && die "the agent did not exit within 10 s of SIGTERM"
stop_status=0
wait "$AGENT_PID" || stop_status=$?
AGENT_PID=

met() {
    awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "yes" : "**no**" }'
}
measured="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z $(git status --porcelain -- devagent/src 2>/dev/null) ]] || measured+=" with uncommitted changes in devagent/src"
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "# devagent: HTTP and DNS throughput"
    echo
    echo "\`benches/devagent-load.sh\`, release build of devagent at ${measured}, ${DURATION} s per run. Machine: ${cores} cores (${cpu_model:-unknown CPU}), Linux $(uname -r),"
    echo "1-minute load average ${load_before} before the runs."
    echo "wrk/dnsperf run on the same machine and share the cores with the agent; \"agent CPU\" is the agent's"
    echo "user+system time during the run divided by its length (${cores}.00 = every core)."
    echo "Registered: 10 instances of \`x\` and 3 of \`y\` with passing TTL checks, \`web\` (no check), \`db\` (critical)."
    echo
    echo "| Measure | Result | Target | Met |"
    echo "|---|---|---|---|"
    echo "| HTTP \`GET /v1/health/service/x?passing\` (${size}-byte body), \`wrk -t2 -c64 -d${DURATION}s\` | $(printf '%.0f' "$rps") req/s (latency p50 $wrk_p50, p99 $wrk_p99) | ≥ ${HTTP_TARGET}/s | $(met "$rps" $HTTP_TARGET) |"
    echo "| HTTP errors | non-2xx: ${wrk_bad:-0}; ${wrk_errors:-no socket errors} | 0 | $([[ -z $wrk_bad && -z $wrk_errors ]] && echo yes || echo '**no**') |"
    echo "| Agent CPU during wrk; RSS after | ${http_cpu} cores; ${http_rss} MiB | | |"
    echo "| DNS, \`dnsperf -c 8 -Q 100000 -l ${DURATION}\` (x SRV, _x._tcp SRV, y SRV, x A) | $(printf '%.0f' "$qps") queries/s (average latency $dns_latency) | ≥ ${DNS_TARGET}/s | $(met "$qps" $DNS_TARGET) |"
    echo "| DNS queries lost; response codes | ${dns_lost}; ${dns_codes} | | |"
    echo "| Agent CPU during dnsperf; RSS after | ${dns_cpu} cores; ${dns_rss} MiB | | |"
    echo "| SIGTERM → exit status | $stop_status | 0 | $([[ $stop_status -eq 0 ]] && echo yes || echo '**no**') |"
} >"$WORK/table.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/table.md" "$RESULTS"
echo
cat "$RESULTS"
echo
echo "devagent-load: wrote $RESULTS" >&2
