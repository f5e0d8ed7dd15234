#!/usr/bin/env bash
# A/B of two devagent builds on the request-body paths: `PUT
# /v1/catalog/register` (a new instance per request) and `PUT
# /v1/agent/service/register` (snake_case keys, a TTL check, 2000 IDs
# re-registered), rounds interleaved A/B so that machine noise hits both.
# Usage: benches/wire-ab.sh <devagent A> <devagent B> [rounds] [seconds]
# Needs wrk. Prints one line per round and measure: label, requests/s.
# Results: benches/results/wire-ab.md
set -euo pipefail
a=${1:?devagent binary A}
b=${2:?devagent binary B}
rounds=${3:-3}
secs=${4:-4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/catalog.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local n = counter
  local body = string.format('{"Node":"n%d","Address":"10.0.%d.%d","Service":{"ID":"web-%d","Service":"web%d","Port":80,"Tags":["a","b"],"Meta":{"k":"v"}},"Check":{"CheckID":"c","Status":"passing","ServiceID":"web-%d"}}', n, math.floor(n / 250) % 250, n % 250, n, n % 50, n)
  return wrk.format("PUT", "/v1/catalog/register", nil, body)
end
LUA
cat >"$dir/agent.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local n = counter % 2000
  local body = string.format('{"name":"api%d","id":"api-%d","port":8080,"tags":["x"],"meta":{"a":"b"},"enable_tag_override":true,"check":{"ttl":"30s","deregister_critical_service_after":"90m"}}', n % 20, n)
  return wrk.format("PUT", "/v1/agent/service/register", nil, body)
end
LUA

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

one() { # label binary lua
    local port pid rps
    port=$(free_port)
    "$2" agent -dev -dns-port -1 -http-port "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/v1/status/leader" >/dev/null 2>&1 && break
        sleep 0.1
    done
    rps=$(wrk -t2 -c16 -d"${secs}s" -s "$3" "http://127.0.0.1:$port" | awk '/Requests\/sec/ {print $2}')
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$1 $(basename "$3" .lua) $rps"
}

for r in $(seq "$rounds"); do
    for lua in "$dir/catalog.lua" "$dir/agent.lua"; do
        if [ $((r % 2)) -eq 1 ]; then
            one A "$a" "$lua"; one B "$b" "$lua"
        else
            one B "$b" "$lua"; one A "$a" "$lua"
        fi
    done
done
