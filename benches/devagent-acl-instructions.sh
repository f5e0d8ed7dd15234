#!/usr/bin/env bash
# What ACLs cost devagent per request, in instructions, which the machine's
# noise does not move (throughput on this shared VM swings ±15 % from one
# 5 s run to the next; see benches/devagent-acl.sh for the throughput).
#
# Runs the release devagent under callgrind with ACLs off and with ACLs on
# (default deny; the request token and the `dns` token hold
# `service_prefix "" read` and `node_prefix "" read`), each three times:
# N HTTP requests and N DNS queries, 2N and N, N and 2N. The difference
# between runs is the cost of N requests of one kind, start-up and set-up
# cancelled out. HTTP: `GET /v1/health/service/x?passing` (10 instances) on
# one keep-alive connection, the token in X-Consul-Token on both sides. DNS:
# `x.service.consul` SRV and A in turn, over UDP, 8 in flight (one at a
# time, how often the agent's threads park moved the count by half).
# The counts still move with thread wake-ups (one run under a load of 11
# read +16.6 % for ACLs on where the next read +5.1 %): ROUNDS rounds,
# off and on in each, and the medians.
# User-space instructions of the agent only. Needs valgrind and python3.
#
# Usage: benches/devagent-acl-instructions.sh     (N=2000 ROUNDS=3)
# Writes benches/results/devagent-acl-instructions.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
ROUNDS=${ROUNDS:-3}
MGMT=6f3e2d1c-0b9a-4887-9665-544332211000
die() {
    echo "devagent-acl-instructions: $*" >&2
    exit 1
}
for tool in cargo curl valgrind python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
cargo build --profile bench -p devagent --features devagent/jemalloc
BIN="${CARGO_TARGET_DIR:-target}/release/devagent"
WORK=$(mktemp -d)
PID=
cleanup() {
    [[ -n $PID ]] && kill -KILL "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

printf 'acl {\n  enabled = true\n  default_policy = "deny"\n  tokens {\n    initial_management = "%s"\n  }\n}\n' "$MGMT" >"$WORK/on.hcl"
echo '{}' >"$WORK/off.json"

cat >"$WORK/load.py" <<'PY'
import http.client, socket, struct, sys
host, port, dns_port, token, n_http, n_dns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
c = http.client.HTTPConnection(host, port)
for _ in range(n_http):
    c.request("GET", "/v1/health/service/x?passing", headers={"X-Consul-Token": token})
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or body.count(b'"ServiceName":"x"') != 10:
        sys.exit(f"bad answer {r.status}: {body[:200]!r}")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(30)
def q(i, qtype):
    name = b"".join(bytes([len(p)]) + p for p in [b"x", b"service", b"consul"]) + b"\0"
    return struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", qtype, 1)
# 8 queries in flight at a time, as a load generator keeps several.
for burst in range(0, n_dns, 8):
    for i in range(burst, min(n_dns, burst + 8)):
        s.sendto(q(i, 33 if i % 2 else 1), (host, dns_port))
    for i in range(burst, min(n_dns, burst + 8)):
        if struct.unpack(">H", s.recv(65535)[6:8])[0] == 0:
            sys.exit("a DNS answer without records")
PY

# run SIDE N_HTTP N_DNS: prints the agent's instruction count.
run() {
    local side=$1 cfg out line=
    cfg="$WORK/off.json"
    [[ $side == on ]] && cfg="$WORK/on.hcl"
    out="$WORK/$side-$2-$3"
    # Each round reuses the names: the last round's listening line must not be read.
    rm -f "$out.cg" "$out.out" "$out.err"
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$BIN" agent -dev -http-port=0 -dns-port=0 \
        -log-level=warn -config-file "$cfg" >"$out.out" 2>"$out.err" &
    PID=$!
    for _ in $(seq 600); do
        line=$(grep -m1 '^devagent listening' "$out.out" || true)
        [[ -n $line ]] && break
        sleep 0.1
    done
    [[ -n $line ]] || die "agent did not start: $(tail -5 "$out.err")"
    local http dns token=$MGMT
    http=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$line")
    dns=$(sed -n 's/.* dns=\([^ ]*\).*/\1/p' <<<"$line")
    if [[ $side == on ]]; then
        curl -sf -X PUT "http://$http/v1/acl/policy" -H "X-Consul-Token: $MGMT" \
            -d '{"Name":"read-all","Rules":"service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }"}' >/dev/null
        token=$(curl -sf -X PUT "http://$http/v1/acl/token" -H "X-Consul-Token: $MGMT" \
            -d '{"Policies":[{"Name":"read-all"}]}' | sed -n 's/.*"SecretID":"\([^"]*\)".*/\1/p')
        curl -sf -X PUT "http://$http/v1/agent/token/dns" -H "X-Consul-Token: $MGMT" -d "{\"Token\":\"$token\"}"
    fi
    for i in $(seq 0 9); do
        curl -sf -X PUT "http://$http/v1/agent/service/register" -H "X-Consul-Token: $MGMT" \
            -d "{\"Name\":\"x\",\"ID\":\"x$i\",\"Address\":\"127.0.0.$((i + 1))\",\"Port\":8000,\"Check\":{\"TTL\":\"10m\",\"Status\":\"passing\"}}" >/dev/null
    done
    python3 "$WORK/load.py" "${http%:*}" "${http##*:}" "${dns##*:}" "$token" "$2" "$3" || die "$side: load failed"
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
    sed -n 's/^summary: //p' "$out.cg"
}

counts=()
for round in $(seq "$ROUNDS"); do
    for side in off on; do
        base=$(run "$side" "$N" "$N")
        http=$(run "$side" $((2 * N)) "$N")
        dns=$(run "$side" "$N" $((2 * N)))
        echo "devagent-acl-instructions: round $round, $side: $base / $http / $dns" >&2
        counts+=("$base" "$http" "$dns")
    done
done

commit=$(git rev-parse --short HEAD)
load=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$N" "$commit" "$load" "${counts[@]}" <<'PY' | tee benches/results/devagent-acl-instructions.md
import statistics, sys
n, commit, load = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = list(map(int, sys.argv[4:]))
rounds = []  # per round: (http off, http on, dns off, dns on)
for r in range(0, len(c), 6):
    ob, oh, od, nb, nh, nd = c[r:r + 6]
    rounds.append(((oh - ob) / n, (nh - nb) / n, (od - ob) / n, (nd - nb) / n))
med = [statistics.median(x[i] for x in rounds) for i in range(4)]
# The difference is the median of the rounds' own differences (off and on
# side by side in one round), not the difference of the two medians.
def row(name, off, on, k):
    d = statistics.median(x[k + 1] - x[k] for x in rounds)
    pct = statistics.median((x[k + 1] / x[k] - 1) * 100 for x in rounds)
    return f"| {name} | {off:,.0f} | {on:,.0f} | {d:+,.0f} ({pct:+.1f} %) |"
print("# What ACLs cost devagent per request, in instructions\n")
print(f"`benches/devagent-acl-instructions.sh` at commit {commit}: the agent (bench profile) under callgrind, "
      f"runs of {n:,} and {2 * n:,} requests of each kind; the difference is {n:,} requests, start-up and set-up cancelled. "
      "ACLs on: default deny, a token with `service_prefix \"\" read` and `node_prefix \"\" read` (request token and `dns` token). "
      f"DNS: 8 queries in flight. Medians of {len(rounds)} rounds (1-minute load average {load} at the end).\n")
print("| Request | ACLs off (median) | ACLs on (median) | Difference (median of the rounds') |")
print("|---|---|---|---|")
print(row("`GET /v1/health/service/x?passing` (10 instances)", med[0], med[1], 0))
print(row("DNS `x.service.consul` SRV / A", med[2], med[3], 2))
print("\n| Round | HTTP off | HTTP on | Difference | DNS off | DNS on | Difference |")
print("|---|---|---|---|---|---|---|")
for i, (ho, hn, do, dn) in enumerate(rounds, 1):
    print(f"| {i} | {ho:,.0f} | {hn:,.0f} | {(hn / ho - 1) * 100:+.1f} % | {do:,.0f} | {dn:,.0f} | {(dn / do - 1) * 100:+.1f} % |")
PY
