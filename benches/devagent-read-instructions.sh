#!/usr/bin/env bash
# Where devagent's time goes, in instructions (which this VM's noise does not
# move; `perf stat -e instructions` is not supported here): the release
# agent under callgrind, runs of N and 2N requests of one kind, the
# difference divided by N (start-up and set-up cancelled), next to nginx
# and dnsmasq answering the same bytes and records under callgrind the
# same way (nginx as one process: master_process off, 1 worker).
#
# - HTTP: `GET /v1/health/service/x?passing` (10 instances) on one
#   keep-alive connection; nginx serves the same body as a static file;
# - DNS: `x.service.consul` A and SRV in turn over UDP, 8 in flight (one
#   at a time, the count swings with how often the agent's thread parks);
#   dnsmasq holds the same SRV and A records;
# - writes: `PUT /v1/kv/bench/<n>`, `PUT /v1/agent/check/pass/<id>` (no
#   change) and `?note=<n>` (a write each).
# Also the inclusive cost per request of the main steps of devagent's
# HTTP and DNS answers (callgrind_annotate). User-space instructions only.
#
# Usage: benches/devagent-read-instructions.sh   (N=2000; DEVAGENT_BIN=<path> for another build)
# Writes benches/results/devagent-read-instructions.md (RESULTS=<file> elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
RESULTS=${RESULTS:-benches/results/devagent-read-instructions.md}
die() {
    echo "devagent-read-instructions: $*" >&2
    exit 1
}
for tool in cargo curl valgrind callgrind_annotate python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[[ -x $NGINX && -x $DNSMASQ ]] || die "needs nginx and dnsmasq (apt-get install -y nginx dnsmasq)"
if [[ -z ${DEVAGENT_BIN:-} ]]; then
    cargo build --profile bench -p devagent --features devagent/jemalloc
    BIN="${CARGO_TARGET_DIR:-target}/release/devagent"
else
    BIN=$DEVAGENT_BIN
fi
WORK=$(mktemp -d)
chmod 755 "$WORK"
PID=
cleanup() {
    [[ -n $PID ]] && kill -KILL "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = s.getsockname()[1]; t.bind(("127.0.0.1", p)); print(p)'
}

cat >"$WORK/load.py" <<'PY'
import http.client, socket, struct, sys
kind, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if kind == "dns":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(30)
    name = b"".join(bytes([len(p)]) + p for p in [b"x", b"service", b"consul"]) + b"\0"
    # 8 queries in flight at a time, as a load generator keeps several.
    for burst in range(0, n, 8):
        for i in range(burst, min(n, burst + 8)):
            q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 33 if i % 2 else 1, 1)
            s.sendto(q, (host, port))
        for i in range(burst, min(n, burst + 8)):
            if struct.unpack(">H", s.recv(65535)[6:8])[0] == 0:
                sys.exit("a DNS answer without records")
    sys.exit(0)
c = http.client.HTTPConnection(host, port)
for i in range(n):
    if kind == "health":
        c.request("GET", "/v1/health/service/x?passing")
    elif kind == "kv":
        c.request("PUT", f"/v1/kv/bench/{i}", body=b"v")
    elif kind == "pass":
        c.request("PUT", "/v1/agent/check/pass/x0", body=b"")
    else:
        c.request("PUT", f"/v1/agent/check/pass/x0?note={i}", body=b"")
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or (kind == "health" and body.count(b'"ServiceName":"x"') != 10):
        sys.exit(f"bad answer {r.status}: {body[:200]!r}")
PY

# agent KIND COUNT: instructions of a devagent run answering COUNT requests of KIND.
agent() {
    local out="$WORK/agent-$1-$2" line= http dns
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$BIN" agent -dev -http-port=0 -dns-port=0 \
        -log-level=warn >"$out.out" 2>"$out.err" &
    PID=$!
    for _ in $(seq 600); do
        line=$(grep -m1 '^devagent listening' "$out.out" || true)
        [[ -n $line ]] && break
        sleep 0.1
    done
    [[ -n $line ]] || die "the agent did not start: $(tail -5 "$out.err")"
    http=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")
    dns=$(sed -n 's/.* dns=\([^ ]*\).*/\1/p' <<<"$line")
    for i in $(seq 0 9); do
        curl -sf -X PUT "http://$http/v1/agent/service/register" \
            -d "{\"Name\":\"x\",\"ID\":\"x$i\",\"Address\":\"127.0.0.$((i + 1))\",\"Port\":8000,\"Check\":{\"CheckID\":\"x$i\",\"TTL\":\"10m\",\"Status\":\"passing\"}}" >/dev/null
    done
    if [[ $1 == dns ]]; then
        python3 "$WORK/load.py" dns 127.0.0.1 "${dns##*:}" "$2" || die "dns load failed"
    else
        python3 "$WORK/load.py" "$1" "${http%:*}" "${http##*:}" "$2" || die "$1 load failed"
    fi
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
    sed -n 's/^summary: //p' "$out.cg"
}

# nginx COUNT: instructions of one nginx process serving the same body COUNT times.
nginx_run() {
    local dir="$WORK/nginx-$1" port
    port=$(free_port)
    mkdir -p "$dir/www/v1/health/service"
    cp "$WORK/body" "$dir/www/v1/health/service/x"
    cat >"$dir/nginx.conf" <<EOF
master_process off;
daemon off;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off; sendfile on; tcp_nodelay on; keepalive_requests 100000000;
    open_file_cache max=64 inactive=60s; open_file_cache_valid 60s;
    client_body_temp_path $dir/b; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f; uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        location /v1/health/service/ {
            default_type application/json;
$(tr -d '\r' <"$WORK/head" | awk -F': ' 'tolower($1) ~ /^x-consul-/ { printf "            add_header %s \"%s\";\n", $1, $2 }')
        }
    }
}
EOF
    valgrind --tool=callgrind --callgrind-out-file="$dir.cg" "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2>"$dir.err" &
    PID=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/v1/health/service/x?passing" && break
        sleep 0.2
    done
    python3 "$WORK/load.py" health 127.0.0.1 "$port" "$1" || die "nginx load failed"
    kill -QUIT "$PID"
    wait "$PID" || true
    PID=
    sed -n 's/^summary: //p' "$dir.cg"
}

# dnsmasq COUNT: instructions of dnsmasq answering COUNT queries.
dnsmasq_run() {
    local dir="$WORK/dnsmasq-$1" port i hex
    port=$(free_port)
    mkdir -p "$dir"
    : >"$dir/hosts"
    {
        echo "port=$port"
        echo "listen-address=127.0.0.1"
        echo "bind-interfaces"
        echo "no-resolv"
        echo "no-hosts"
        echo "no-negcache"
        echo "local=/consul/"
        echo "local-ttl=0"
        echo "addn-hosts=$dir/hosts"
        for i in $(seq 1 10); do
            hex=$(printf '%02x%02x%02x%02x' 127 0 0 "$i")
            echo "127.0.0.$i x.service.consul $hex.addr.dc1.consul" >>"$dir/hosts"
            echo "srv-host=x.service.consul,$hex.addr.dc1.consul,8000,1,1"
        done
    } >"$dir/dnsmasq.conf"
    valgrind --tool=callgrind --callgrind-out-file="$dir.cg" "$DNSMASQ" --keep-in-foreground \
        --conf-file="$dir/dnsmasq.conf" --pid-file="$dir/pid" --user=root 2>"$dir.err" &
    PID=$!
    sleep 3
    python3 "$WORK/load.py" dns 127.0.0.1 "$port" "$1" || die "dnsmasq load failed"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
    sed -n 's/^summary: //p' "$dir.cg"
}

# The body and headers devagent sends, for nginx.
"$BIN" agent -dev -http-port=0 -dns-port=0 -log-level=warn >"$WORK/once.out" 2>&1 &
PID=$!
for _ in $(seq 100); do
    line=$(grep -m1 '^devagent listening' "$WORK/once.out" || true)
    [[ -n $line ]] && break
    sleep 0.1
done
http=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")
for i in $(seq 0 9); do
    curl -sf -X PUT "http://$http/v1/agent/service/register" \
        -d "{\"Name\":\"x\",\"ID\":\"x$i\",\"Address\":\"127.0.0.$((i + 1))\",\"Port\":8000,\"Check\":{\"CheckID\":\"x$i\",\"TTL\":\"10m\",\"Status\":\"passing\"}}" >/dev/null
done
curl -sf -D "$WORK/head" -o "$WORK/body" "http://$http/v1/health/service/x?passing"
kill -TERM "$PID"
wait "$PID" || true
PID=

declare -A ir
for kind in health dns kv pass note; do
    ir[$kind-1]=$(agent "$kind" "$N")
    ir[$kind-2]=$(agent "$kind" $((2 * N)))
    echo "devagent-read-instructions: $kind ${ir[$kind-1]} / ${ir[$kind-2]}" >&2
done
ir[nginx-1]=$(nginx_run "$N")
ir[nginx-2]=$(nginx_run $((2 * N)))
ir[dnsmasq-1]=$(dnsmasq_run "$N")
ir[dnsmasq-2]=$(dnsmasq_run $((2 * N)))
per() { echo $(((ir[$1-2] - ir[$1-1]) / N)); }

# Where a request's instructions go: the self cost of every function of
# the 2N run less the N run, over N, summed by where the code comes from.
by_origin() {
    local kind=$1
    callgrind_annotate "$WORK/agent-$kind-$N.cg" 2>/dev/null >"$WORK/$kind-1.txt"
    callgrind_annotate "$WORK/agent-$kind-$((2 * N)).cg" 2>/dev/null >"$WORK/$kind-2.txt"
    python3 - "$WORK/$kind-1.txt" "$WORK/$kind-2.txt" "$N" <<'PY'
import re, sys
one, two, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
# By the crate of the function the instructions ran in (inlined code counts
# for the function it was inlined into).
CRATES = {
    "devagent": "devagent (its own code)",
    "hyper": "hyper, httparse (HTTP/1.1)", "httparse": "hyper, httparse (HTTP/1.1)",
    "hyper_util": "hyper, httparse (HTTP/1.1)",
    "http": "http (request, URI and header types)",
    "axum": "axum, tower (routing)", "axum_core": "axum, tower (routing)",
    "tower": "axum, tower (routing)", "tower_service": "axum, tower (routing)",
    "tokio": "tokio (I/O readiness, tasks, timers)", "tokio_util": "tokio (I/O readiness, tasks, timers)",
    "hickory_proto": "hickory (DNS types)", "hickory_server": "hickory (DNS types)",
    "core": "Rust core, alloc, std", "alloc": "Rust core, alloc, std", "std": "Rust core, alloc, std",
    "hashbrown": "Rust core, alloc, std", "bytes": "bytes",
    "futures_util": "futures", "futures_core": "futures",
}
def origin(func):
    if "rjem" in func or "jemalloc" in func or func.startswith("je_"):
        return "jemalloc (allocation)"
    m = re.match(r"<*&?(?:mut )?([A-Za-z_][A-Za-z0-9_]*)::", func)
    if m:
        return CRATES.get(m.group(1), "other Rust crates")
    return "libc and the kernel interface (memcpy, syscall wrappers)"
def self_costs(path):
    totals = {}
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S+?:(.*?)(?: \[.*)?$", line)
        if not m:
            continue
        cost, func = int(m.group(1).replace(",", "")), m.group(2)
        label = origin(func)
        totals[label] = totals.get(label, 0) + cost
    return totals
a, b = self_costs(one), self_costs(two)
rows = sorted(((b[k] - a.get(k, 0)) / n, k) for k in b)
for per, k in reversed(rows):
    if per >= 50:
        print(f"| {k} | {per:,.0f} |")
PY
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain -- devagent/src 2>/dev/null) ]] || commit+=" with uncommitted changes in devagent/src"
{
    echo "# devagent: instructions per request, against nginx and dnsmasq"
    echo
    echo "\`benches/devagent-read-instructions.sh\`, \`$(basename "$BIN")\` (release) at commit $commit, under callgrind:"
    echo "runs of $N and $((2 * N)) requests, the difference over $N (start-up and set-up cancelled). User-space instructions."
    echo "$("$NGINX" -v 2>&1 | sed 's/.*: //') as one process; $("$DNSMASQ" --version | head -1 | awk '{ print $1, $3 }')."
    echo
    echo "| Request | devagent | anchor |"
    echo "|---|---|---|"
    echo "| \`GET /v1/health/service/x?passing\` (10 instances, $(stat -c %s "$WORK/body") bytes) | $(per health) | nginx, the same bytes: $(per nginx) |"
    echo "| DNS \`x.service.consul\` A / SRV, UDP, 8 in flight | $(per dns) | dnsmasq, the same records: $(per dnsmasq) |"
    echo "| \`PUT /v1/kv/bench/<n>\` | $(per kv) | |"
    echo "| \`PUT /v1/agent/check/pass/<id>\` (no change) | $(per pass) | |"
    echo "| \`PUT /v1/agent/check/pass/<id>?note=<n>\` (a write) | $(per note) | |"
    echo
    echo "Where the instructions of one request go (self cost, by the crate of the function they ran in; code inlined from"
    echo "the standard library counts for the function it was inlined into):"
    echo
    echo "| Health read: origin | Instructions |"
    echo "|---|---|"
    by_origin health
    echo
    echo "| DNS query: origin | Instructions |"
    echo "|---|---|"
    by_origin dns
} >"$WORK/table.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/table.md" "$RESULTS"
cat "$RESULTS"
