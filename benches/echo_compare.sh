#!/usr/bin/env bash
# Echo servers side by side: netpark (examples/echo_server, 1 worker; the
# plain loop and --shared-buffer) against tokio current_thread
# (benches/tokio_echo_server.rs), same shape, run interleaved A B C A B C so
# drift on this shared machine hits all alike. Each server is pinned to
# core 0 and the load client to core 1.
#
#   benches/echo_compare.sh            # 100 and 1000 connections, 64 B, 5 s, 3 rounds
#   CONNS="100" SECS=3 ROUNDS=2 benches/echo_compare.sh
#
# The figure that separates servers is server CPU time per request (the client
# saturates first on 2 cores), split into user time (the runtime's own code)
# and system time (the kernel's, ~94% of the total for echo); p99 latency is
# printed beside it. Ratios are against tokio.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-64}
CONNS=${CONNS:-"100 1000"}
PORT=${PORT:-18765}

cargo build --release --quiet --example echo_server --example echo_client
TOKIO_BIN=$(need_bench_bin tokio_echo_server)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

results=$(mktemp)
trap 'rm -f "$results"; kill $(jobs -p) 2>/dev/null || true' EXIT

run() { # name conns command...
  local name=$1 conns=$2; shift 2
  local port=$((PORT++))
  taskset -c 0 "$@" --addr "127.0.0.1:$port" > /dev/null &
  local pid=$!
  wait_port "$port"
  local line
  line=$(taskset -c 1 target/release/examples/echo_client --addr "127.0.0.1:$port" \
    --secs "$SECS" --conns "$conns" --size "$SIZE" --server-pid "$pid")
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
awk '
  {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k = $1 SUBSEP $2
    cpu[k] += v["server_cpu_us_per_req"]; usr[k] += v["server_user_us_per_req"]
    sys[k] += v["server_sys_us_per_req"]; p99[k] += v["p99_us"]; rps[k] += v["rps"]; n[k]++
    conns[$2] = 1
  }
  END {
    split("netpark netpark-shared tokio", names, " ")
    printf "%-6s %-15s %9s %9s %9s %8s %9s\n", "conns", "server", "user_us", "sys_us", "cpu_us", "p99_us", "req/s"
    for (c in conns) {
      for (s = 1; s <= 3; s++) {
        k = names[s] SUBSEP c
        printf "%-6s %-15s %9.3f %9.3f %9.3f %8.0f %9.0f\n", c, names[s], usr[k]/n[k], sys[k]/n[k], cpu[k]/n[k], p99[k]/n[k], rps[k]/n[k]
      }
      b = "tokio" SUBSEP c
      for (s = 1; s <= 2; s++) {
        a = names[s] SUBSEP c
        printf "%-6s %-15s %8.2fx %8.2fx %8.2fx %7.2fx %8.2fx\n", c, names[s] "/tokio", (usr[a]/n[a])/(usr[b]/n[b]), (sys[a]/n[a])/(sys[b]/n[b]), (cpu[a]/n[a])/(cpu[b]/n[b]), (p99[a]/n[a])/(p99[b]/n[b]), (rps[a]/n[a])/(rps[b]/n[b])
      }
    }
  }' "$results"
