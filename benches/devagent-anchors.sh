#!/usr/bin/env bash
# devagent against the physical limit of its reads, side by side in one run:
# nginx serving the same bytes as a static file, and dnsmasq answering the
# same SRV/A records.
#
# Starts the release devagent on free ports and registers what
# benches/devagent-load.sh registers (10 instances of `x` and 3 of `y` with
# passing TTL checks, `web`, and a critical `db`). Then:
# - nginx on a free loopback port (2 workers, as many as cores, keep-alive
#   without a request limit, no access log, open_file_cache) serves the body
#   of `GET /v1/health/service/x?passing` as a static file with the same
#   Content-Type and the X-Consul-* headers devagent sends (so that both
#   answers are the same size within a few bytes);
# - dnsmasq on a free loopback port answers `x.service.consul`,
#   `_x._tcp.service.consul` and `y.service.consul` SRV (targets
#   `<hex>.addr.dc1.consul` with their A records) and `x.service.consul` A
#   from the same instances, as devagent does.
# ROUNDS times, alternating which server goes first:
#   wrk -t2 -c64 -d$DURATION   on each HTTP server
#   dnsperf -c 8 -l $DURATION  on each DNS server (x SRV, _x._tcp SRV, y SRV, x A)
# and the server's CPU time per request (user+system from /proc), which the
# other load on the machine moves less than throughput. Writes the rounds,
# medians and ratios to benches/results/devagent-anchors.md.
# Targets (issue 18): HTTP >= 0.9x nginx, DNS >= 1.0x dnsmasq.
#
# Usage: benches/devagent-anchors.sh      (ROUNDS=5 DURATION=5 by default)
# Needs nginx, dnsmasq (apt-get install -y dnsmasq), wrk, dnsperf, dig, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
RESULTS=${RESULTS:-benches/results/devagent-anchors.md}

die() {
    echo "devagent-anchors: $*" >&2
    exit 1
}

for tool in cargo curl wrk dnsperf dig timeout awk sort python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[[ -x $NGINX ]] || die "nginx is not installed"
[[ -x $DNSMASQ ]] || die "dnsmasq is not installed (apt-get install -y dnsmasq)"

cargo build --profile bench -p devagent --features devagent/jemalloc
BIN="${CARGO_TARGET_DIR:-target}/release/devagent"
[[ -x $BIN ]] || die "no binary at $BIN"

WORK=$(mktemp -d)
chmod 755 "$WORK"
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
[[ -n ${KEEP:-} ]] && trap - EXIT

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = s.getsockname()[1]; t.bind(("127.0.0.1", p)); print(p)'
}

# devagent
"$BIN" agent -dev -http-port=0 -dns-port=0 -log-level=warn >"$WORK/agent.out" 2>"$WORK/agent.err" &
AGENT=$!
PIDS+=("$AGENT")
line=
for _ in $(seq 100); do
    line=$(grep -m1 '^devagent listening' "$WORK/agent.out" || true)
    [[ -n $line ]] && break
    sleep 0.1
done
[[ -n $line ]] || die "the agent did not start: $(cat "$WORK/agent.err")"
HTTP=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")
DNS=$(sed -n 's/.* dns=\([^ ]*\).*/\1/p' <<<"$line")
DNSPORT=${DNS##*:}

register() {
    curl -sf -X PUT "http://$HTTP/v1/agent/service/register" -d "$1" >/dev/null || die "registering $1 failed"
}
hosts="$WORK/hosts"
: >"$hosts"
srv=()
for i in $(seq 0 9); do
    ip="127.0.0.$((i + 1))"
    register "{\"Name\":\"x\",\"ID\":\"x$i\",\"Address\":\"$ip\",\"Port\":8000,\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}"
    hex=$(printf '%02x%02x%02x%02x' 127 0 0 $((i + 1)))
    echo "$ip x.service.consul $hex.addr.dc1.consul" >>"$hosts"
    srv+=("srv-host=x.service.consul,$hex.addr.dc1.consul,8000,1,1" "srv-host=_x._tcp.service.consul,$hex.addr.dc1.consul,8000,1,1")
done
for i in 0 1 2; do
    ip="127.0.1.$((i + 1))"
    register "{\"Name\":\"y\",\"ID\":\"y$i\",\"Address\":\"$ip\",\"Port\":9000,\"Tags\":[\"v1\"],\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}"
    hex=$(printf '%02x%02x%02x%02x' 127 0 1 $((i + 1)))
    echo "$ip $hex.addr.dc1.consul" >>"$hosts"
    srv+=("srv-host=y.service.consul,$hex.addr.dc1.consul,9000,1,1")
done
register '{"Name":"web","ID":"web0","Address":"127.0.2.1","Port":80,"Tags":["primary"]}'
register '{"Name":"db","ID":"db0","Address":"127.0.3.1","Port":5432,"Check":{"TTL":"10m","Status":"critical"}}'

# nginx with the same bytes and headers.
URL_PATH="/v1/health/service/x?passing"
mkdir -p "$WORK/www/v1/health/service" "$WORK/nginx"
curl -sf -D "$WORK/agent.head" -o "$WORK/www/v1/health/service/x" "http://$HTTP$URL_PATH" || die "reading $URL_PATH failed"
[[ $(grep -o '"ServiceName":"x"' "$WORK/www/v1/health/service/x" | wc -l) -eq 10 ]] || die "expected 10 instances of x"
BODY_BYTES=$(stat -c %s "$WORK/www/v1/health/service/x")
NGINX_PORT=$(free_port)
add_headers=$(tr -d '\r' <"$WORK/agent.head" | awk -F': ' 'tolower($1) ~ /^x-consul-/ { printf "        add_header %s \"%s\";\n", $1, $2 }')
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 65;
    open_file_cache max=64 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location /v1/health/service/ {
            default_type application/json;
$add_headers
        }
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>"$WORK/nginx/stderr" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")

# dnsmasq with the same records.
DNSMASQ_PORT=$(free_port)
{
    echo "port=$DNSMASQ_PORT"
    echo "listen-address=127.0.0.1"
    echo "bind-interfaces"
    echo "no-resolv"
    echo "no-hosts"
    echo "no-negcache"
    echo "local=/consul/"
    echo "addn-hosts=$hosts"
    echo "local-ttl=0"
    printf '%s\n' "${srv[@]}"
} >"$WORK/dnsmasq.conf"
"$DNSMASQ" --keep-in-foreground --conf-file="$WORK/dnsmasq.conf" --pid-file="$WORK/dnsmasq.pid" --user=root 2>"$WORK/dnsmasq.err" &
DNSMASQ_PID=$!
PIDS+=("$DNSMASQ_PID")

# Both anchors answer what devagent answers.
for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT$URL_PATH" && break
    sleep 0.1
done
cmp -s <(curl -sf "http://127.0.0.1:$NGINX_PORT$URL_PATH") <(curl -sf "http://$HTTP$URL_PATH") ||
    die "nginx does not serve the bytes devagent serves: $(cat "$WORK/nginx/error.log")"
head_agent=$(curl -sf -o /dev/null -D - "http://$HTTP$URL_PATH" | wc -c)
head_nginx=$(curl -sf -o /dev/null -D - "http://127.0.0.1:$NGINX_PORT$URL_PATH" | wc -c)
for _ in $(seq 50); do
    dig @127.0.0.1 -p "$DNSMASQ_PORT" +short +tries=1 +time=1 x.service.consul SRV | grep -q . && break
    sleep 0.1
done
for q in "x.service.consul SRV" "_x._tcp.service.consul SRV" "y.service.consul SRV" "x.service.consul A"; do
    for port in "$DNSPORT" "$DNSMASQ_PORT"; do
        # shellcheck disable=SC2086
        n=$(dig @127.0.0.1 -p "$port" +short +tries=1 +time=2 $q | grep -c . || true)
        [[ $n -ge 1 ]] || die "no answer to $q on port $port"
    done
done
queries="$WORK/queries.txt"
for _ in $(seq 250); do
    printf '%s\n' 'x.service.consul SRV' '_x._tcp.service.consul SRV' 'y.service.consul SRV' 'x.service.consul A'
done >"$queries"

ticks=$(getconf CLK_TCK)
# CPU seconds used by a process and its children processes (nginx workers).
cpu_of() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$(awk -v t="$ticks" -v acc="$total" '{ sub(/^.*\) /, ""); printf "%.4f", acc + ($12 + $13) / t }' "/proc/$p/stat")
    done
    echo "$total"
}

# http_run URL PID: sets RATE (req/s) and CPU_US (server CPU µs per request).
http_run() {
    local c0 c1 total
    c0=$(cpu_of "$2")
    timeout $((DURATION + 30)) wrk -t2 -c64 -d"${DURATION}s" "$1" >"$WORK/wrk.out"
    c1=$(cpu_of "$2")
    grep -q 'Non-2xx' "$WORK/wrk.out" && die "non-2xx answers from $1: $(cat "$WORK/wrk.out")"
    total=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v n="$total" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')
    RATE=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk.out")
}
# dns_run PORT PID: sets RATE (queries/s), CPU_US, LOST and RESP (average response bytes).
dns_run() {
    local c0 c1 total
    c0=$(cpu_of "$2")
    timeout $((DURATION + 30)) dnsperf -s 127.0.0.1 -p "$1" -d "$queries" -l "$DURATION" -c 8 >"$WORK/dnsperf.out"
    c1=$(cpu_of "$2")
    total=$(awk '/Queries completed:/ { print $3 }' "$WORK/dnsperf.out")
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v n="$total" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')
    RATE=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$WORK/dnsperf.out")
    LOST=$(awk '/Queries lost:/ { print $3 }' "$WORK/dnsperf.out")
    RESP=$(awk '/Average packet size:/ { print $NF }' "$WORK/dnsperf.out")
    grep -q 'NOERROR' "$WORK/dnsperf.out" || die "no NOERROR answers from port $1: $(cat "$WORK/dnsperf.out")"
}

load_before=$(awk '{ print $1 }' /proc/loadavg)
rows=()
h_agent=() h_nginx=() d_agent=() d_dnsmasq=()
hc_agent=() hc_nginx=() dc_agent=() dc_dnsmasq=()
for round in $(seq "$ROUNDS"); do
    first=devagent
    ((round % 2 == 0)) && first=anchor
    declare -A h=() d=() hc=() dc=() lost=() resp=()
    order=(devagent anchor)
    [[ $first == anchor ]] && order=(anchor devagent)
    for side in "${order[@]}"; do
        if [[ $side == devagent ]]; then
            http_run "http://$HTTP$URL_PATH" "$AGENT"
        else
            http_run "http://127.0.0.1:$NGINX_PORT$URL_PATH" "$NGINX_PID"
        fi
        h[$side]=$RATE hc[$side]=$CPU_US
    done
    for side in "${order[@]}"; do
        if [[ $side == devagent ]]; then
            dns_run "$DNSPORT" "$AGENT"
        else
            dns_run "$DNSMASQ_PORT" "$DNSMASQ_PID"
        fi
        d[$side]=$RATE dc[$side]=$CPU_US lost[$side]=$LOST resp[$side]=$RESP
    done
    h_agent+=("${h[devagent]}") h_nginx+=("${h[anchor]}") d_agent+=("${d[devagent]}") d_dnsmasq+=("${d[anchor]}")
    hc_agent+=("${hc[devagent]}") hc_nginx+=("${hc[anchor]}") dc_agent+=("${dc[devagent]}") dc_dnsmasq+=("${dc[anchor]}")
    rh=$(awk -v a="${h[devagent]}" -v b="${h[anchor]}" 'BEGIN { printf "%.2f", a / b }')
    rd=$(awk -v a="${d[devagent]}" -v b="${d[anchor]}" 'BEGIN { printf "%.2f", a / b }')
    rows+=("| $round (${order[0]} first) | ${h[devagent]} | ${h[anchor]} | ${rh}× | ${hc[devagent]} / ${hc[anchor]} | ${d[devagent]} | ${d[anchor]} | ${rd}× | ${dc[devagent]} / ${dc[anchor]} | ${lost[devagent]} / ${lost[anchor]} | ${resp[devagent]} / ${resp[anchor]} |")
    echo "devagent-anchors: round $round: HTTP ${h[devagent]} vs nginx ${h[anchor]} (${rh}x); DNS ${d[devagent]} vs dnsmasq ${d[anchor]} (${rd}x)" >&2
done
load_after=$(awk '{ print $1 }' /proc/loadavg)

median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratios() { # the per-round ratios of two lists
    local -n xs=$1 ys=$2
    local i
    for i in "${!xs[@]}"; do awk -v a="${xs[$i]}" -v b="${ys[$i]}" 'BEGIN { printf "%.3f\n", a / b }'; done
}
mapfile -t rh_all < <(ratios h_agent h_nginx)
mapfile -t rd_all < <(ratios d_agent d_dnsmasq)
mh_a=$(median "${h_agent[@]}")
mh_n=$(median "${h_nginx[@]}")
md_a=$(median "${d_agent[@]}")
md_d=$(median "${d_dnsmasq[@]}")
mr_h=$(median "${rh_all[@]}")
mr_d=$(median "${rd_all[@]}")
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }'; }
met() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "yes" : "**no**" }'; }

measured="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z $(git status --porcelain -- devagent/src 2>/dev/null) ]] || measured+=" with uncommitted changes in devagent/src"
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "# devagent against nginx and dnsmasq serving the same bytes"
    echo
    echo "\`benches/devagent-anchors.sh\`, release devagent at ${measured}; ${ROUNDS} rounds of ${DURATION} s per measure and server,"
    echo "the server that goes first alternating. Machine: $(nproc) cores (${cpu_model:-unknown CPU}), Linux $(uname -r);"
    echo "1-minute load average ${load_before} before the rounds, ${load_after} after (other work shares the machine)."
    echo "The load generators share the cores with the servers. $("$NGINX" -v 2>&1 | sed 's/.*: //'), $("$DNSMASQ" --version | head -1 | awk '{ print $1, $3 }')."
    echo
    echo "- HTTP: \`wrk -t2 -c64 -d${DURATION}s GET $URL_PATH\` (10 instances, ${BODY_BYTES}-byte body; response head ${head_agent} bytes from devagent,"
    echo "  ${head_nginx} from nginx, which sends the same body as a static file with the same X-Consul-* headers; $(nproc) workers, keep-alive unlimited)."
    echo "- DNS: \`dnsperf -c 8 -l ${DURATION}\` without EDNS, the queries x SRV, _x._tcp SRV, y SRV, x A in turn; dnsmasq holds the same SRV"
    echo "  records, targets and A records. devagent answers as Consul (3 instances per plain UDP answer, shuffled), dnsmasq with every record."
    echo "- Server CPU is the server's user+system time (nginx: its workers) per request."
    echo
    echo "| Measure | devagent (median) | anchor (median) | Ratio (median of rounds; range) | Target | Met |"
    echo "|---|---|---|---|---|---|"
    echo "| HTTP health read, req/s (anchor: nginx) | $mh_a | $mh_n | ${mr_h}× ($(range "${rh_all[@]}")) | ≥ 0.9× | $(met "$mr_h" 0.9) |"
    echo "| DNS SRV/A mix, queries/s (anchor: dnsmasq) | $md_a | $md_d | ${mr_d}× ($(range "${rd_all[@]}")) | ≥ 1.0× | $(met "$mr_d" 1.0) |"
    echo "| Server CPU per HTTP request (µs) | $(median "${hc_agent[@]}") | $(median "${hc_nginx[@]}") | | | |"
    echo "| Server CPU per DNS query (µs) | $(median "${dc_agent[@]}") | $(median "${dc_dnsmasq[@]}") | | | |"
    echo
    echo "| Round | HTTP devagent | nginx | | CPU µs/req | DNS devagent | dnsmasq | | CPU µs/query | lost | response bytes |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$WORK/table.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/table.md" "$RESULTS"
echo
cat "$RESULTS"
echo "devagent-anchors: wrote $RESULTS" >&2
