#!/usr/bin/env bash
# Bulk transfer through a proxy, side by side: examples/proxy (1 worker,
# splice), a tokio copy_bidirectional proxy (current_thread) and Go's
# io.Copy proxy (GOMAXPROCS=1, which splices too), interleaved. The proxy is
# pinned to core 0, the sender and sink (benches/bulk_load.rs) to core 1.
# Reported: throughput, and the proxy's CPU-seconds per GB (user + system,
# from /proc/PID/stat).
#
#   benches/proxy_compare.sh                 # 2 GiB over 4 connections, 3 rounds
#   MIB=512 ROUNDS=1 benches/proxy_compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MIB=${MIB:-2048}
CONNS=${CONNS:-4}
ROUNDS=${ROUNDS:-3}

HAVE_GO=1
if ! command -v go >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go) >/dev/null 2>&1 || true
  command -v go >/dev/null 2>&1 || { HAVE_GO=0; echo "note: go unavailable: skipped" >&2; }
fi

cargo build --release --quiet --example proxy
source benches/lib.sh
TOKIO=$(bench_bin tokio_proxy)
LOAD=$(bench_bin bulk_load)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

taskset -c 1 "$LOAD" sink 18900 &
taskset -c 0 target/release/examples/proxy --listen 127.0.0.1:18901 --upstream 127.0.0.1:18900 --workers 1 --quiet >/dev/null &
declare -A pid=([netpark]=$!) port=([netpark]=18901 [tokio]=18902 [go]=18903)
taskset -c 0 "$TOKIO" 127.0.0.1:18902 127.0.0.1:18900 &
pid[tokio]=$!
proxies=(netpark tokio)
if [ "$HAVE_GO" = 1 ] && (cd benches/http && go build -o "$work/goproxy" proxy.go); then
  GOMAXPROCS=1 taskset -c 0 "$work/goproxy" 127.0.0.1:18903 127.0.0.1:18900 &
  pid[go]=$!
  proxies+=(go)
fi
sleep 1
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
: > "$work/r"
for round in $(seq "$ROUNDS"); do
  for p in "${proxies[@]}"; do
    read -r u0 s0 < <(ticks "${pid[$p]}")
    secs=$(taskset -c 1 "$LOAD" send "127.0.0.1:${port[$p]}" "$MIB" "$CONNS")
    read -r u1 s1 < <(ticks "${pid[$p]}")
    awk -v p="$p" -v t="$secs" -v mib="$MIB" -v u=$((u1-u0)) -v s=$((s1-s0)) -v hz="$hz" 'BEGIN {
      gb = mib * 1048576 / 1e9
      printf "%s %.0f %.3f %.3f\n", p, gb * 1000 / t, u / hz / gb, s / hz / gb }' >> "$work/r"
    sleep 0.5
  done
done
echo
echo "proxy bulk transfer, $(date -u +%F), $MIB MiB over $CONNS connections x $ROUNDS round(s) (medians)"
printf "%-8s %9s %12s %10s %10s\n" proxy "MB/s" "CPU s/GB" user sys
med() { grep "^$1 " "$work/r" | awk -v c="$2" '{print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for p in "${proxies[@]}"; do
  u=$(med "$p" 3); s=$(med "$p" 4)
  printf "%-8s %9s %12.3f %10s %10s\n" "$p" "$(med "$p" 2)" "$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')" "$u" "$s"
done
