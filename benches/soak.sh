#!/usr/bin/env bash
# Soak of the demo under --chaos: runs the release demo (embedded devagent,
# sensor, workers, app, templater, nginx when installed, dashboard) for
# SOAK_SECS seconds while a worker is killed with SIGKILL every SOAK_CHAOS
# and restarted half as long later, and samples the resident memory (VmRSS)
# and the open file descriptors of the demo and of every process below it
# every SOAK_EVERY seconds. Writes benches/results/soak.md: per process the
# first, last and largest sample, the anonymous part of RSS (RssAnon: the
# heap, stacks; the rest is the binary's and libraries' pages), the trend of
# RSS over the last SOAK_TAIL seconds (least-squares slope times their
# length: a leak is a trend, and the allocator's swings average out) and
# whether the process is flat (RSS trend under 128 KiB, which a leak of
# 1 KiB per chaos cycle at 4 s would pass; fds trend under 5, which one fd
# per 10 cycles would pass), and the raw samples beside it
# (benches/results/soak-samples.csv).
#
# Usage: benches/soak.sh
# Settings (environment): SOAK_SECS=600 SOAK_EVERY=10 SOAK_CHAOS=4s
#   SOAK_WORKERS=2 SOAK_TAIL=500 SOAK_OUT=benches/results/soak.md
#   SOAK_FEATURES= (cargo features of the demo build, e.g. `jemalloc`)
# The demo runs on ports the system chooses.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${SOAK_SECS:-600}
every=${SOAK_EVERY:-10}
chaos=${SOAK_CHAOS:-4s}
workers=${SOAK_WORKERS:-2}
tail_secs=${SOAK_TAIL:-500}
features=${SOAK_FEATURES:-}
out=${SOAK_OUT:-benches/results/soak.md}
csv=${out%.md}-samples.csv

cargo build --release -p demo ${features:+--features "$features"}
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/demo"

dir=$(mktemp -d -t dcy-soak-XXXXXX)
demo_pid=
cleanup() {
    if [[ -n $demo_pid ]] && kill -0 "$demo_pid" 2>/dev/null; then
        kill -TERM "$demo_pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$demo_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

# A copy of the binary (a build during the soak leaves it alone), on ports
# the system chooses (the soak never collides with a Consul, an nginx or a
# test run on 8500/8600/8080).
cp "$bin" "$dir/demo"
"$dir/demo" --workers "$workers" --chaos "$chaos" --dir "$dir/run" \
    --http-port 0 --dns-port 0 --nginx-port 0 </dev/null >"$dir/stdout" 2>&1 &
demo_pid=$!

# Ready: the banner says every service passes.
for _ in $(seq 1 600); do
    if grep -q "every service passing" "$dir/stdout" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$demo_pid" 2>/dev/null; then
        echo "soak: the demo exited at start:" >&2
        cat "$dir/stdout" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q "every service passing" "$dir/stdout" || {
    echo "soak: the demo did not start within 60 s" >&2
    exit 1
}

# The demo and every process below it (pid, then descendants).
tree() {
    local pids=("$1") i=0
    while ((i < ${#pids[@]})); do
        local p=${pids[i]}
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
            pids+=("$c")
        done
        i=$((i + 1))
    done
    echo "${pids[@]}"
}

# A process's name: its command line's program and role, shortened.
name() {
    local cmd
    cmd=$(tr '\0' ' ' </proc/"$1"/cmdline 2>/dev/null | cut -c1-200) || return 1
    case "$cmd" in
        nginx:\ master*) echo "nginx master" ;;
        nginx:\ worker*) echo "nginx worker" ;;
        *" worker "*) echo "demo worker" ;;
        *"/demo "* | "demo "*) echo "demo" ;;
        *) echo "$cmd" | awk '{print $1}' | xargs basename ;;
    esac
}

echo "t_s,pid,name,rss_kib,fds,anon_kib" >"$csv"
start=$(date +%s)
samples=0
while :; do
    now=$(date +%s)
    t=$((now - start))
    if ! kill -0 "$demo_pid" 2>/dev/null; then
        echo "soak: the demo exited after ${t}s:" >&2
        tail -20 "$dir/stdout" >&2
        exit 1
    fi
    for p in $(tree "$demo_pid"); do
        n=$(name "$p") || continue
        rss=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null) || continue
        anon=$(awk '/^RssAnon:/ {print $2}' /proc/"$p"/status 2>/dev/null) || continue
        fds=$(find /proc/"$p"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) || continue
        [[ -n $rss ]] || continue
        echo "$t,$p,$n,$rss,$fds,$anon" >>"$csv"
    done
    samples=$((samples + 1))
    if ((t >= secs)); then
        break
    fi
    sleep "$every"
done

stop_start=$(date +%s%N)
kill -TERM "$demo_pid"
wait "$demo_pid" || true
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
demo_pid=
stopped=$(grep -a "stopped in" "$dir/stdout" | tail -1 | sed 's/^ *//')
kills=$(grep -ac "chaos: killed" "$dir/stdout" || true)
restarts=$(grep -ac "chaos: deregistered" "$dir/stdout" || true)
progress=$(grep -a "workers .* passing" "$dir/stdout" | tail -1 | sed 's/^ *//')

# A chaos period (`4s`, `500ms`) in milliseconds.
to_ms() {
    case "$1" in
        *ms) echo "${1%ms}" ;;
        *s) echo $((${1%s} * 1000)) ;;
        *) echo 4000 ;;
    esac
}

commit=$(git rev-parse --short HEAD)
dirty=$(git status --porcelain -- Cargo.toml Cargo.lock dcy devagent templater examples | awk '{print $NF}' | tr '\n' ' ')
[[ -z $dirty ]] || commit="$commit (dirty: ${dirty% })"

{
    echo "# Soak: the demo under --chaos"
    echo
    echo "\`benches/soak.sh\` at $commit, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores shared"
    echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))."
    echo "\`demo --workers $workers --chaos $chaos\`${features:+ built with \`--features $features\`} (embedded devagent, sensor, app,"
    echo "templater$(command -v nginx >/dev/null && echo ' and nginx'), dashboard in the demo process; workers as child"
    echo "processes) for ${secs} s, RSS (VmRSS) and open fds of every process sampled every"
    echo "${every} s ($samples samples). Chaos: $kills kills (SIGKILL), $restarts restarts."
    echo "Last progress line: \`$progress\`. Stop: \`$stopped\` (SIGTERM to exit ${stop_ms} ms)."
    echo
    echo "Processes alive for at least 3 samples, by pid (a restarted worker is a new pid);"
    echo "RSS and anon (RssAnon) in MiB. The raw samples: \`$(basename "$csv")\`."
    echo
    echo "Flat (last column), for a process alive over the last ${tail_secs} s (from the"
    echo "sample at $((secs - tail_secs)) s on): the trend of its RSS over them (least-squares"
    echo "slope times ${tail_secs} s: a leak is a trend, the allocator's swings average out) is"
    echo "under 128 KiB (a leak of 1 KiB per chaos cycle would make $((tail_secs * 1000 / $(to_ms "$chaos"))) KiB), and the"
    echo "trend of its fds likewise under 5 (one fd per 10 cycles would make $((tail_secs * 100 / $(to_ms "$chaos")))). \"tail trend\""
    echo "is the RSS trend in KiB; \"tail Δ\" the last sample minus the first of the tail."
    echo
    echo "| process | pid | samples | RSS first | RSS last | RSS max | anon first | anon last | fds first | fds last | fds max | tail Δ | tail trend | flat |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    awk -F, -v t0=$((secs - tail_secs)) -v tl="$tail_secs" 'NR > 1 {
        k = $2
        if (!(k in n)) { order[++m] = k; name[k] = $3; rf[k] = $4; ff[k] = $5; af[k] = $6; rmax[k] = 0; fmax[k] = 0; tf[k] = $1; fpre[k] = 0; ftail[k] = 0 }
        n[k]++; rl[k] = $4; fl[k] = $5; al[k] = $6
        if ($4 > rmax[k]) rmax[k] = $4
        if ($5 > fmax[k]) fmax[k] = $5
        if ($1 < t0 && $5 > fpre[k]) fpre[k] = $5
        if ($1 >= t0 && !(k in rt)) rt[k] = $4
        if ($1 >= t0 && $5 > ftail[k]) ftail[k] = $5
        if ($1 >= t0) { sn[k]++; sx[k] += $1; sy[k] += $4; sxx[k] += $1 * $1; sxy[k] += $1 * $4; sf[k] += $5; sxf[k] += $1 * $5 }
    }
    END {
        for (i = 1; i <= m; i++) {
            k = order[i]
            if (n[k] < 3) { short[name[k]]++; if (rmax[k] > srm[name[k]]) srm[name[k]] = rmax[k]; if (fmax[k] > sfm[name[k]]) sfm[name[k]] = fmax[k]; continue }
            if (tf[k] < t0 && (k in rt)) {
                den = sn[k] * sxx[k] - sx[k] * sx[k]
                trend = den > 0 ? (sn[k] * sxy[k] - sx[k] * sy[k]) / den * tl : 0
                ftrend = den > 0 ? (sn[k] * sxf[k] - sx[k] * sf[k]) / den * tl : 0
                flat = (trend < 128 && ftrend < 5) ? "yes" : "**no**"
                tail = sprintf("%+d", rl[k] - rt[k]); tr = sprintf("%+.0f", trend)
            } else { tail = ""; tr = ""; flat = "(not alive over the tail)" }
            printf "| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | %s | %s | %s |\n", name[k], k, n[k], rf[k] / 1024, rl[k] / 1024, rmax[k] / 1024, af[k] / 1024, al[k] / 1024, ff[k], fl[k], fmax[k], tail, tr, flat
        }
        for (s in short) printf "| %s (%d short-lived, < 3 samples each) | | | | | %.1f | | | | | %d | | | |\n", s, short[s], srm[s] / 1024, sfm[s]
    }' "$csv"
} >"$out"
cat "$out"
