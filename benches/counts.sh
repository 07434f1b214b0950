#!/usr/bin/env bash
# Counted, not timed: instructions and modelled cache misses per unit of
# work, netpark beside tokio, under valgrind's cachegrind. On this shared
# 2-core VM a timing moves ±25% between runs of one binary (and a whole
# process can land in a 2x slower spell), which hides the few per cent that
# separate the servers; a count is the same every run.
#
#   echo, per request at CONNS connections (64 B ping-pong): netpark's
#     plain loop (`echo_server --workers 1`), its `--shared-buffer` loop,
#     and tokio current_thread (benches/tokio_echo_server.rs)
#   unbuffered channel ping-pong on one worker, per round trip: netpark's
#     `sync::channel(0)` against tokio's `mpsc::channel(1)` and `oneshot`
#     (benches/channels.rs, ONLY=...)
#
#   benches/counts.sh                     # both, 1,000 connections
#   CONNS=100 SECS=4 benches/counts.sh echo
#   TRIPS=100000 benches/counts.sh ping-pong
#   SERVERS="netpark tokio" benches/counts.sh echo   # some of the servers
#
# Each figure is a difference of two runs, one twice as long as the other
# (SECS and 2*SECS of load; TRIPS and 2*TRIPS round trips), divided by the
# difference in work done: start-up, the accepts and the teardown cancel
# out. Misses are cachegrind's model (L1d 48 KiB 12-way, last level 4 MiB
# 16-way, 64-byte lines): it ignores prefetches and the TLB, so it counts
# the distinct lines each unit of work touches, not what they cost.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

CONNS=${CONNS:-1000}
SECS=${SECS:-6}
TRIPS=${TRIPS:-200000}
PORT=${PORT:-18865}
WHAT=${1:-all}

command -v valgrind > /dev/null || {
  echo "counts.sh: valgrind is missing (Debian: apt-get install valgrind)" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null || true' EXIT
CG=(valgrind --tool=cachegrind --cache-sim=yes --D1=49152,12,64 --LL=4194304,16,64)

# The PROGRAM TOTALS of a cachegrind output: "Ir D1mr D1mw DLmr DLmw".
totals() {
  cg_annotate --show=Ir,D1mr,D1mw,DLmr,DLmw "$1" 2> /dev/null |
    sed -n 's/([^)]*)//g; s/,//g; s/ *PROGRAM TOTALS//p' | awk '{print $1, $2, $3, $4, $5}'
}

# name work_a totals_a work_b totals_b: one line per unit of work.
per_unit() {
  awk -v name="$1" -v wa="$2" -v wb="$4" -v ta="$3" -v tb="$5" 'BEGIN {
    split(ta, a, " "); split(tb, b, " "); w = wb - wa
    if (w <= 0) { printf "%-28s no difference in work (%d, %d)\n", name, wa, wb; exit }
    printf "%-28s %10.0f %8.2f %8.2f %8.2f %8.2f\n", name, (b[1]-a[1])/w,
      (b[2]-a[2])/w, (b[3]-a[3])/w, (b[4]-a[4])/w, (b[5]-a[5])/w
  }' | tee -a "$tmp/rows"
}

# One server under cachegrind on `port` with SECS*k seconds of load;
# prints "requests totals".
echo_run() { # port k command...
  local port=$1 k=$2; shift 2
  local out="$tmp/cg.$port"
  taskset -c 0 "${CG[@]}" --cachegrind-out-file="$out" "$@" --addr "127.0.0.1:$port" \
    > /dev/null 2>&1 &
  local pid=$!
  wait_port "$port" 60
  local line
  line=$(taskset -c 1 target/release/examples/echo_client --addr "127.0.0.1:$port" \
    --secs $((SECS * k)) --conns "$CONNS" --size 64)
  kill -TERM "$pid"
  wait "$pid" 2> /dev/null || true
  echo "$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$line") $(totals "$out")"
}

echo_counts() {
  cargo build --release --quiet --example echo_server --example echo_client
  local tokio
  tokio=$(need_bench_bin tokio_echo_server)
  ulimit -n 65536 2> /dev/null || ulimit -n "$(ulimit -Hn)"
  echo "echo, $CONNS connections, per request (runs of ${SECS} s and $((SECS * 2)) s):"
  header
  local name a b
  for name in ${SERVERS:-netpark netpark-shared tokio}; do
    case $name in
      netpark) set -- target/release/examples/echo_server --workers 1 ;;
      netpark-shared) set -- target/release/examples/echo_server --workers 1 --shared-buffer ;;
      tokio) set -- "$tokio" ;;
    esac
    a=$(echo_run $((PORT++)) 1 "$@")
    b=$(echo_run $((PORT++)) 2 "$@")
    per_unit "echo $name" "${a%% *}" "${a#* }" "${b%% *}" "${b#* }"
  done
}

ping_pong_counts() {
  local bin
  bin=$(need_bench_bin channels)
  echo "ping-pong on one worker, per round trip (runs of $TRIPS and $((TRIPS * 2))):"
  header
  local only a b
  for only in netpark-ping-pong tokio-ping-pong tokio-oneshot-ping-pong; do
    for k in 1 2; do
      ONLY=$only ROUNDTRIPS=$((TRIPS * k)) taskset -c 0 "${CG[@]}" \
        --cachegrind-out-file="$tmp/pp.$only.$k" "$bin" --bench > /dev/null 2>&1
    done
    a=$(totals "$tmp/pp.$only.1")
    b=$(totals "$tmp/pp.$only.2")
    per_unit "$only" "$TRIPS" "$a" $((TRIPS * 2)) "$b"
  done
}

header() {
  printf "%-28s %10s %8s %8s %8s %8s\n" "" instr L1d_rd L1d_wr LL_rd LL_wr
}

case $WHAT in
  echo) echo_counts ;;
  ping-pong) ping_pong_counts ;;
  all) echo_counts; echo; ping_pong_counts ;;
  *) echo "usage: benches/counts.sh [echo|ping-pong|all]" >&2; exit 2 ;;
esac

# Ratios against tokio (its mpsc for the ping-pong).
echo
awk '
  { name = $1 " " $2; if ($1 != "echo") name = $1; ins[name] = $(NF-4); l1[name] = $(NF-3) + $(NF-2) }
  END {
    split("echo netpark|echo netpark-shared|netpark-ping-pong", ours, "|")
    for (i = 1; i <= 3; i++) {
      o = ours[i]; if (!(o in ins)) continue
      p = (o ~ /^echo/) ? "echo tokio" : "tokio-ping-pong"
      if (!(p in ins) || ins[p] == 0) continue
      if (l1[p] >= 0.05)
        printf "%-28s instructions %.2fx, L1d misses %.2fx (of %s)\n", o, ins[o] / ins[p], l1[o] / l1[p], p
      else
        printf "%-28s instructions %.2fx (of %s; L1d misses: none to compare)\n", o, ins[o] / ins[p], p
    }
  }' "$tmp/rows"
