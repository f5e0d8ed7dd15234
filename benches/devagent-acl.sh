#!/usr/bin/env bash
# devagent throughput with ACLs on against ACLs off, side by side in one run.
#
# Starts two release devagents on free ports: one with ACLs off, one with
# `acl { enabled = true, default_policy = "deny" }` and a management token.
# On the second it creates a token holding
#   service_prefix "" { policy = "read" }
#   node_prefix "" { policy = "read" }
# (Consul lists an instance only to a token that reads its service and its
# node: with service read alone the answer is an empty list) and makes it the
# agent's `dns` token. Both agents get the same 10 instances of `x` (passing
# TTL checks), 3 of `y` and two more services, as benches/devagent-load.sh.
# Then, ROUNDS times, alternating which agent goes first:
#   wrk -t2 -c64 -d$DURATION -H "X-Consul-Token: <token>" .../v1/health/service/x?passing
#   dnsperf -c 8 -l $DURATION (x SRV, _x._tcp SRV, y SRV, x A)
# against each agent in turn (the same token header goes to both), and
# writes the per-round figures, the medians and the ratio to
# benches/results/devagent-acl.md, with the agent's CPU time per request
# (user+system from /proc, which the other load on the machine moves less
# than throughput). Target: ACLs on within 10 % of ACLs off.
#
# Usage: benches/devagent-acl.sh      (ROUNDS=5 DURATION=5 by default)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
RESULTS=benches/results/devagent-acl.md
MGMT=6f3e2d1c-0b9a-4887-9665-544332211000

die() {
    echo "devagent-acl: $*" >&2
    exit 1
}

for tool in cargo curl wrk dnsperf dig timeout awk sort; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

cargo build --profile bench -p devagent --features devagent/jemalloc
BIN="${CARGO_TARGET_DIR:-target}/release/devagent"
[[ -x $BIN ]] || die "no binary at $BIN"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/acl.hcl" <<EOF
acl {
  enabled = true
  default_policy = "deny"
  tokens {
    initial_management = "$MGMT"
  }
}
EOF
echo '{}' >"$WORK/none.json"

# start NAME CONFIG: starts an agent, sets HTTP_<NAME> and DNSPORT_<NAME>.
start() {
    local name=$1 config=$2 line=
    "$BIN" agent -dev -http-port=0 -dns-port=0 -log-level=warn -node="bench-$name" \
        -config-file "$config" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do
        line=$(grep -m1 '^devagent listening' "$WORK/$name.out" || true)
        [[ -n $line ]] && break
        sleep 0.1
    done
    [[ -n $line ]] || die "agent $name did not start: $(cat "$WORK/$name.err")"
    local http dns
    http=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")
    dns=$(sed -n 's/.* dns=\([^ ]*\).*/\1/p' <<<"$line")
    printf -v "HTTP_$name" '%s' "$http"
    printf -v "DNSPORT_$name" '%s' "${dns##*:}"
}
start off "$WORK/none.json"
PID_off=${PIDS[-1]}
start on "$WORK/acl.hcl"
PID_on=${PIDS[-1]}
ticks=$(getconf CLK_TCK)
# CPU seconds an agent has used (utime + stime).
cpu_of() {
    awk -v t="$ticks" '{ sub(/^.*\) /, ""); printf "%.4f", ($12 + $13) / t }' "/proc/$1/stat"
}

# The read token, on the ACL agent, made its DNS token.
curl -sf -X PUT "http://$HTTP_on/v1/acl/policy" -H "X-Consul-Token: $MGMT" \
    -d '{"Name":"read-all","Rules":"service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }"}' >/dev/null ||
    die "creating the policy failed"
TOKEN=$(curl -sf -X PUT "http://$HTTP_on/v1/acl/token" -H "X-Consul-Token: $MGMT" \
    -d '{"Description":"bench reader","Policies":[{"Name":"read-all"}]}' |
    sed -n 's/.*"SecretID":"\([^"]*\)".*/\1/p')
[[ -n $TOKEN ]] || die "creating the token failed"
curl -sf -X PUT "http://$HTTP_on/v1/agent/token/dns" -H "X-Consul-Token: $MGMT" \
    -d "{\"Token\":\"$TOKEN\"}" || die "setting the dns token failed"

register() {
    curl -sf -X PUT "http://$1/v1/agent/service/register" -H "X-Consul-Token: $MGMT" -d "$2" >/dev/null ||
        die "registering $2 on $1 failed"
}
for http in "$HTTP_off" "$HTTP_on"; do
    for i in $(seq 0 9); do
        register "$http" "{\"Name\":\"x\",\"ID\":\"x$i\",\"Address\":\"127.0.0.$((i + 1))\",\"Port\":8000,\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}"
    done
    for i in 0 1 2; do
        register "$http" "{\"Name\":\"y\",\"ID\":\"y$i\",\"Address\":\"127.0.1.$((i + 1))\",\"Port\":9000,\"Tags\":[\"v1\"],\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}"
    done
    register "$http" '{"Name":"web","ID":"web0","Address":"127.0.2.1","Port":80,"Tags":["primary"]}'
    register "$http" '{"Name":"db","ID":"db0","Address":"127.0.3.1","Port":5432,"Check":{"TTL":"10m","Status":"critical"}}'
done

# Sanity: the token sees the 10 instances and the same bytes on both agents;
# DNS answers on both; without the token the ACL agent shows nothing.
body_off=$(curl -sf -H "X-Consul-Token: $TOKEN" "http://$HTTP_off/v1/health/service/x?passing" | grep -o '"ServiceName":"x"' | wc -l)
body_on=$(curl -sf -H "X-Consul-Token: $TOKEN" "http://$HTTP_on/v1/health/service/x?passing" | grep -o '"ServiceName":"x"' | wc -l)
anon_on=$(curl -sf "http://$HTTP_on/v1/health/service/x?passing")
[[ $body_off -eq 10 && $body_on -eq 10 ]] || die "expected 10 instances on both agents, saw $body_off and $body_on"
[[ $anon_on == "[]" ]] || die "without a token the ACL agent answered $anon_on"
for name in off on; do
    port_var="DNSPORT_$name"
    srv=$(dig @127.0.0.1 -p "${!port_var}" +short +tries=1 +time=2 x.service.consul SRV | grep -c . || true)
    [[ $srv -ge 1 ]] || die "no SRV records for x.service.consul on the $name agent"
done

queries="$WORK/queries.txt"
for _ in $(seq 250); do
    printf '%s\n' 'x.service.consul SRV' '_x._tcp.service.consul SRV' 'y.service.consul SRV' 'x.service.consul A'
done >"$queries"

# http_run ADDR PID: requests/s; sets CPU_US (agent CPU µs per request).
http_run() {
    local c0 c1
    c0=$(cpu_of "$2")
    timeout $((DURATION + 30)) wrk -t2 -c64 -d"${DURATION}s" -H "X-Consul-Token: $TOKEN" \
        "http://$1/v1/health/service/x?passing" >"$WORK/wrk.out"
    c1=$(cpu_of "$2")
    grep -q 'Non-2xx' "$WORK/wrk.out" && die "non-2xx answers from $1: $(cat "$WORK/wrk.out")"
    local total
    total=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v n="$total" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')
    RATE=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk.out")
}
# dns_run PORT PID: queries/s; sets CPU_US (agent CPU µs per query).
dns_run() {
    local c0 c1 total
    c0=$(cpu_of "$2")
    timeout $((DURATION + 30)) dnsperf -s 127.0.0.1 -p "$1" -d "$queries" -l "$DURATION" -c 8 >"$WORK/dnsperf.out"
    c1=$(cpu_of "$2")
    total=$(awk '/Queries completed:/ { print $3 }' "$WORK/dnsperf.out")
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v n="$total" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')
    RATE=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$WORK/dnsperf.out")
}

rows=()
http_off=() http_on=() dns_off=() dns_on=()
hcpu_off=() hcpu_on=() dcpu_off=() dcpu_on=()
for round in $(seq "$ROUNDS"); do
    order=(off on)
    ((round % 2 == 0)) && order=(on off)
    declare -A h=() d=() hc=() dc=()
    for name in "${order[@]}"; do
        http_var="HTTP_$name"
        port_var="DNSPORT_$name"
        pid_var="PID_$name"
        http_run "${!http_var}" "${!pid_var}"
        h[$name]=$RATE hc[$name]=$CPU_US
        dns_run "${!port_var}" "${!pid_var}"
        d[$name]=$RATE dc[$name]=$CPU_US
    done
    http_off+=("${h[off]}") http_on+=("${h[on]}") dns_off+=("${d[off]}") dns_on+=("${d[on]}")
    hcpu_off+=("${hc[off]}") hcpu_on+=("${hc[on]}") dcpu_off+=("${dc[off]}") dcpu_on+=("${dc[on]}")
    ratio_h=$(awk -v a="${h[on]}" -v b="${h[off]}" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }')
    ratio_d=$(awk -v a="${d[on]}" -v b="${d[off]}" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }')
    rows+=("| $round (${order[0]} first) | ${h[off]} | ${h[on]} | $ratio_h | ${hc[off]} / ${hc[on]} | ${d[off]} | ${d[on]} | $ratio_d | ${dc[off]} / ${dc[on]} |")
    echo "devagent-acl: round $round: HTTP off ${h[off]} on ${h[on]} ($ratio_h); DNS off ${d[off]} on ${d[on]} ($ratio_d)" >&2
done

median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
mh_off=$(median "${http_off[@]}")
mh_on=$(median "${http_on[@]}")
md_off=$(median "${dns_off[@]}")
md_on=$(median "${dns_on[@]}")
mhc_off=$(median "${hcpu_off[@]}")
mhc_on=$(median "${hcpu_on[@]}")
mdc_off=$(median "${dcpu_off[@]}")
mdc_on=$(median "${dcpu_on[@]}")
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }'; }
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= 0.9 * b) ? "yes" : "**no**" }'; }

measured="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z $(git status --porcelain -- devagent/src 2>/dev/null) ]] || measured+=" with uncommitted changes in devagent/src"
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "# devagent: throughput with ACLs on against ACLs off"
    echo
    echo "\`benches/devagent-acl.sh\`, release build at ${measured}; ${ROUNDS} rounds of ${DURATION} s per measure and agent,"
    echo "the agent that goes first alternating. Machine: $(nproc) cores (${cpu_model:-unknown CPU}), Linux $(uname -r)."
    echo "Both agents run at once (the idle one uses no CPU); wrk and dnsperf share the cores with them."
    echo "ACLs on: default_policy deny, a token holding \`service_prefix \"\" read\` and \`node_prefix \"\" read\`"
    echo "sent as X-Consul-Token (to both agents) and set as the agent's \`dns\` token."
    echo "HTTP: \`wrk -t2 -c64 GET /v1/health/service/x?passing\` (10 instances); DNS: \`dnsperf -c 8\` (x SRV, _x._tcp SRV, y SRV, x A)."
    echo
    echo "| Measure | ACLs off (median) | ACLs on (median) | Difference | Target | Met |"
    echo "|---|---|---|---|---|---|"
    echo "| HTTP req/s | $mh_off | $mh_on | $(pct "$mh_on" "$mh_off") | within 10 % | $(met "$mh_on" "$mh_off") |"
    echo "| DNS queries/s | $md_off | $md_on | $(pct "$md_on" "$md_off") | within 10 % | $(met "$md_on" "$md_off") |"
    echo "| Agent CPU per HTTP request (µs) | $mhc_off | $mhc_on | $(pct "$mhc_on" "$mhc_off") | | |"
    echo "| Agent CPU per DNS query (µs) | $mdc_off | $mdc_on | $(pct "$mdc_on" "$mdc_off") | | |"
    echo
    echo "| Round | HTTP off | HTTP on | | CPU µs/req off / on | DNS off | DNS on | | CPU µs/query off / on |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$WORK/table.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/table.md" "$RESULTS"
echo
cat "$RESULTS"
echo "devagent-acl: wrote $RESULTS" >&2
