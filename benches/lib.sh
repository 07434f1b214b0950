# Helpers the benchmark scripts share; `source "$(dirname "$0")/lib.sh"`
# after `cd` to the project root.

# The path of the executable of `cargo bench --bench NAME` (built if need
# be), or nothing.
bench_bin() {
  cargo bench --bench "$1" --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1
}

# As bench_bin, failing the script when the executable is not there.
need_bench_bin() {
  local b
  b=$(bench_bin "$1")
  [ -x "$b" ] || { echo "cannot find the $1 bench binary" >&2; exit 1; }
  echo "$b"
}

# Waits until something accepts on 127.0.0.1:PORT, trying every 50 ms
# for SECS seconds (default 5; a server under valgrind needs more).
wait_port() { # port [secs]
  local tries=$((${2:-5} * 20))
  for _ in $(seq "$tries"); do
    (echo > "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.05
  done
  echo "server did not start on port $1" >&2
  return 1
}
