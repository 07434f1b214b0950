#!/usr/bin/env bash
# Echo servers side by side: netpark (examples/echo_server, 1 worker; the
# plain loop and --shared-buffer) against tokio current_thread
# (benches/tokio_echo_server.rs), same shape, run interleaved A B C A B C so
# drift on this shared machine hits all alike. Each server is pinned to
# core 0 and the load client to core 1.
#
#   benches/echo_compare.sh            # 100 and 1000 connections, 64 B, 5 s, 3 rounds
#   CONNS="100" SECS=3 ROUNDS=2 benches/echo_compare.sh
#   PERF_USER=1 benches/echo_compare.sh  # also split user/system by perf samples
#
# The figure that separates servers is server CPU time per request (the client
# saturates first on 2 cores), split into user time (the runtime's own code)
# and system time (the kernel's, ~94% of the total for echo); p99 latency is
# printed beside it. Ratios are against tokio: of the means over all rounds,
# then per round (each round runs the three back to back) as a median with
# its range and the count of rounds where netpark was at or below tokio.
# steal% is the share of core 0's time the hypervisor gave other guests
# during the server's runs (/proc/stat).
#
# The user/system split from /proc is the kernel's tick accounting (250 Hz
# here): a 4 s round of a server at ~13% user time rests on ~130 ticks,
# so its user figure moves ±9% by sampling alone. PERF_USER=1 also samples
# each server with `perf record -e cpu-clock -F 10000` (40x the ticks) and
# prints user time as the total CPU times the share of samples outside the
# kernel (column user_perf; PERF_FREQ=2000 gave the same ratios). That
# takes out the sampling noise, not the host's: on this VM the ratio still
# moved 1.04-1.44x between runs of one build (README, "Echo server").
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-64}
CONNS=${CONNS:-"100 1000"}
PORT=${PORT:-18765}
PERF_USER=${PERF_USER:-0}
PERF_FREQ=${PERF_FREQ:-10000}

cargo build --release --quiet --example echo_server --example echo_client
TOKIO_BIN=$(need_bench_bin tokio_echo_server)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [ "$PERF_USER" = 1 ] && ! command -v perf > /dev/null; then
  echo "PERF_USER=1: perf is not installed; the user_perf column is left out" >&2
  PERF_USER=0
fi

results=$(mktemp)
perfdata=$(mktemp)
trap 'rm -f "$results" "$perfdata"; kill $(jobs -p) 2>/dev/null || true' EXIT

# The share of a perf.data's samples outside the kernel.
user_share() {
  perf report -i "$1" --stdio --sort dso 2> /dev/null | awk '
    /^ *[0-9.]+%/ { v = $1; sub("%", "", v); if ($2 ~ /kernel/) k += v; else u += v }
    END { if (u + k > 0) printf "%.4f", u / (u + k) }'
}

# The server's core as "total steal" ticks (/proc/stat): the time the
# hypervisor gave core 0 to other guests shows how contended a round was.
cpu0_ticks() {
  awk '$1 == "cpu0" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9 }' /proc/stat
}
steal_pct() { # "total steal" before, after
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "%.1f", (y[1] > x[1] ? 100 * (y[2] - x[2]) / (y[1] - x[1]) : 0)
  }'
}

run() { # name conns command...
  local name=$1 conns=$2; shift 2
  local port=$((PORT++))
  taskset -c 0 "$@" --addr "127.0.0.1:$port" > /dev/null &
  local pid=$!
  wait_port "$port"
  local line perf_pid=""
  if [ "$PERF_USER" = 1 ]; then
    taskset -c 1 perf record -q -e cpu-clock -F "$PERF_FREQ" -p "$pid" -o "$perfdata" \
      -- sleep "$SECS" > /dev/null 2>&1 &
    perf_pid=$!
  fi
  local before; before=$(cpu0_ticks)
  line=$(taskset -c 1 target/release/examples/echo_client --addr "127.0.0.1:$port" \
    --secs "$SECS" --conns "$conns" --size "$SIZE" --server-pid "$pid")
  line="$line steal_pct=$(steal_pct "$before" "$(cpu0_ticks)")"
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    line="$line perf_user_share=$(user_share "$perfdata")"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$name $conns $line" | tee -a "$results"
}

for conns in $CONNS; do
  for _ in $(seq "$ROUNDS"); do
    run netpark "$conns" target/release/examples/echo_server --workers 1
    run netpark-shared "$conns" target/release/examples/echo_server --workers 1 --shared-buffer
    run tokio "$conns" "$TOKIO_BIN"
  done
done

echo
awk -v perf="$PERF_USER" '
  {
    delete v
    for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k = $1 SUBSEP $2
    cpu[k] += v["server_cpu_us_per_req"]; usr[k] += v["server_user_us_per_req"]
    sys[k] += v["server_sys_us_per_req"]; p99[k] += v["p99_us"]; rps[k] += v["rps"]; n[k]++
    upf[k] += v["server_cpu_us_per_req"] * v["perf_user_share"]; stl[k] += v["steal_pct"]
    conns[$2] = 1
    # The round this line belongs to: the r-th run of this server and conns.
    r = ++rounds[k]
    pu[k, r] = (perf == 1 ? v["server_cpu_us_per_req"] * v["perf_user_share"] : v["server_user_us_per_req"])
    pc[k, r] = v["server_cpu_us_per_req"]; pp[k, r] = v["p99_us"]
  }
  # Sorts a[1..n] in place (n is small).
  function sort(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
  }
  # The per-round ratios of one figure (f: the array) for server a against
  # b: their median, their range and in how many rounds a was at most b.
  function paired(f, a, b, n,   r, x, le, m) {
    le = 0
    for (r = 1; r <= n; r++) {
      if (f == "u") x[r] = pu[a, r] / pu[b, r]
      else if (f == "c") x[r] = pc[a, r] / pc[b, r]
      else x[r] = pp[a, r] / pp[b, r]
      if (x[r] <= 1) le++
    }
    sort(x, n)
    m = (n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2)
    return sprintf("%5.2fx (%4.2f-%4.2f, <=1 in %d/%d)", m, x[1], x[n], le, n)
  }
  function row(c, name, k) {
    printf "%-6s %-15s %9.3f %9.3f %9.3f %8.0f %9.0f", c, name, usr[k]/n[k], sys[k]/n[k], cpu[k]/n[k], p99[k]/n[k], rps[k]/n[k]
    if (perf == 1) printf " %9.3f", upf[k]/n[k]
    printf " %6.1f\n", stl[k]/n[k]
  }
  function ratio(c, name, a, b) {
    printf "%-6s %-15s %8.2fx %8.2fx %8.2fx %7.2fx %8.2fx", c, name, (usr[a]/n[a])/(usr[b]/n[b]), (sys[a]/n[a])/(sys[b]/n[b]), (cpu[a]/n[a])/(cpu[b]/n[b]), (p99[a]/n[a])/(p99[b]/n[b]), (rps[a]/n[a])/(rps[b]/n[b])
    if (perf == 1) printf " %8.2fx", (upf[b] > 0 ? (upf[a]/n[a])/(upf[b]/n[b]) : 0)
    printf "\n"
  }
  END {
    split("netpark netpark-shared tokio", names, " ")
    printf "%-6s %-15s %9s %9s %9s %8s %9s", "conns", "server", "user_us", "sys_us", "cpu_us", "p99_us", "req/s"
    if (perf == 1) printf " %9s", "user_perf"
    printf " %6s\n", "steal%"
    for (c in conns) {
      for (s = 1; s <= 3; s++) row(c, names[s], names[s] SUBSEP c)
      for (s = 1; s <= 2; s++) ratio(c, names[s] "/tokio", names[s] SUBSEP c, "tokio" SUBSEP c)
    }
    # Each round runs the servers back to back, so the ratio of one round is taken
    # in one spell of the host; the median of the per-round ratios is the
    # figure a slow or fast spell moves least.
    printf "\nper-round ratios against tokio (median, range, rounds at or below 1):\n"
    printf "%-6s %-15s %-33s %-33s %s\n", "conns", "server", (perf == 1 ? "user (perf)" : "user"), "total CPU", "p99"
    for (c in conns) {
      for (s = 1; s <= 2; s++) {
        a = names[s] SUBSEP c; b = "tokio" SUBSEP c
        nr = (rounds[a] < rounds[b] ? rounds[a] : rounds[b])
        if (nr == 0) continue
        printf "%-6s %-15s %-33s %-33s %s\n", c, names[s], paired("u", a, b, nr), paired("c", a, b, nr), paired("p", a, b, nr)
      }
    }
  }' "$results"
