#!/usr/bin/env bash
# Memory per idle connection, side by side: examples/echo_server (plain
# loop, and --shared-buffer) against tokio's echo server. Each server gets
# N connections that each sent 16 bytes once and are then held; the
# figure is the server's VmRSS growth divided by N.
#
#   benches/idle_conns.sh            # N=10000
#   N=2000 benches/idle_conns.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet --example echo_server
source benches/lib.sh
TOKIO=$(bench_bin tokio_echo_server)
CLIENT=$(bench_bin idle_client)
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
port=18960
measure() { # name command...
  local name=$1; shift
  "$@" --addr "127.0.0.1:$port" >/dev/null &
  local pid=$!
  sleep 0.5
  local before; before=$(rss "$pid")
  coproc CL { "$CLIENT" "127.0.0.1:$port" "$N"; }
  read -r line <&"${CL[0]}"
  sleep 0.5
  local after; after=$(rss "$pid")
  awk -v n="$name" -v b="$before" -v a="$after" -v c="$N" \
    'BEGIN { printf "%-28s %8d KiB before %8d KiB after  %6.2f KiB per connection\n", n, b, a, (a - b) / c }'
  exec {CL[1]}>&-
  wait "$CL_PID" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  port=$((port + 1))
}
echo "idle connections: $N, each sent 16 bytes once ($(date -u +%F))"
measure "netpark echo_server" target/release/examples/echo_server --workers 1
measure "netpark --shared-buffer" target/release/examples/echo_server --workers 1 --shared-buffer
measure "tokio current_thread" "$TOKIO"
