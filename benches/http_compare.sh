#!/usr/bin/env bash
# File serving side by side: examples/file_server (1 worker) against nginx
# (sendfile on, 1 worker) and Go's http.FileServer (GOMAXPROCS=1), with wrk,
# run interleaved A B C A B C so drift on this shared machine hits all alike.
# Each server is pinned to core 0 and wrk to core 1.
#
#   benches/http_compare.sh                    # 64 KiB and 1 MiB, 10 and 100 conns, 5 s, 3 rounds
#   SECS=3 ROUNDS=1 benches/http_compare.sh
#
# Peers are Debian packages (wrk, nginx-light, golang-go): installed when
# missing; a peer that cannot be had is skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"10 100"}
SIZES=${SIZES:-"64k 1m"}

need() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing $2 ..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null 2>&1 || true
  command -v "$1" >/dev/null 2>&1
}
need wrk wrk || { echo "wrk is needed and could not be installed" >&2; exit 1; }
HAVE_NGINX=1; need nginx nginx-light || { HAVE_NGINX=0; echo "note: nginx unavailable: skipped" >&2; }
HAVE_GO=1; need go golang-go || { HAVE_GO=0; echo "note: go unavailable: skipped" >&2; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/root"
chmod 755 "$work" "$work/root"   # nginx workers run as www-data
head -c 65536 /dev/urandom > "$work/root/64k.bin"
head -c 1048576 /dev/urandom > "$work/root/1m.bin"
chmod 644 "$work"/root/*.bin

cargo build --release --quiet --example file_server
servers=(netpark)
taskset -c 0 target/release/examples/file_server --root "$work/root" --addr 127.0.0.1:18801 \
  --workers 1 --prefix /static/ --quiet >/dev/null &
declare -A port=([netpark]=18801 [nginx]=18802 [go]=18803)
if [ "$HAVE_NGINX" = 1 ]; then
  mkdir -p "$work/nginx"
  sed -e "s|ROOT|$work/root|; s|PORT|18802|; s|PREFIX_DIR|$work/nginx|g" benches/http/nginx.conf > "$work/nginx/nginx.conf"
  taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" >/dev/null 2>&1 &
  servers+=(nginx)
fi
if [ "$HAVE_GO" = 1 ]; then
  (cd benches/http && GOFLAGS=-mod=mod go build -o "$work/gofs" fileserver.go) && {
    GOMAXPROCS=1 taskset -c 0 "$work/gofs" -root "$work/root" -addr 127.0.0.1:18803 &
    servers+=(go)
  } || echo "note: go build failed: Go skipped" >&2
fi
for s in "${servers[@]}"; do
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:${port[$s]}/static/64k.bin" && break
    sleep 0.1
  done
done

results="$work/results"
: > "$results"
for round in $(seq "$ROUNDS"); do
  for size in $SIZES; do
    for c in $CONNS; do
      for s in "${servers[@]}"; do
        out=$(taskset -c 1 wrk -t1 -c"$c" -d"${SECS}s" "http://127.0.0.1:${port[$s]}/static/$size.bin")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        mbs=$(awk '/Transfer\/sec/ {v=$2; if (v ~ /GB/) {sub("GB","",v); v*=1024} else if (v ~ /MB/) {sub("MB","",v)} else if (v ~ /KB/) {sub("KB","",v); v/=1024}; print v}' <<<"$out")
        echo "$size $c $s $rps $mbs" >> "$results"
      done
    done
  done
done

echo
echo "file serving, $(date -u +%F), ${SECS}s x $ROUNDS round(s), wrk -t1, servers pinned to core 0 (medians)"
printf "%-5s %5s | %-8s %10s %9s" size conns server "req/s" "MB/s"
printf " | %s\n" "netpark vs it"
for size in $SIZES; do
  for c in $CONNS; do
    med() { grep "^$size $c $1 " "$results" | awk '{print $4}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    medmb() { grep "^$size $c $1 " "$results" | awk '{print $5}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    np=$(med netpark)
    for s in "${servers[@]}"; do
      r=$(med "$s"); m=$(medmb "$s")
      ratio=$(awk -v a="$np" -v b="$r" 'BEGIN { printf "%.2fx", a / b }')
      printf "%-5s %5s | %-8s %10s %9s | %s\n" "$size" "$c" "$s" "$r" "$m" "$ratio"
    done
  done
done
