#!/usr/bin/env bash
# GET /hello requests/s: native hyper vs berth on wasmtime vs berth on wasmi, measured in
# one run with the servers interleaved round by round, printed as a markdown table with
# ratios to the native baseline. Loopback only; bounded: ROUNDS × 3 × SECONDS.
#
#   bench/hello-rps.sh            # after: cargo build --release -p berth -p berth-bench
#
# Environment: ROUNDS (3), DURATION seconds (5), CONNS (64), TARGET (cargo's target dir).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} SECONDS_PER=${DURATION:-5} CONNS=${CONNS:-64}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-target}}
BIN="$TARGET/release"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -x "$BIN/berth" ] && [ -x "$BIN/native-hello" ] || { echo "build first: cargo build --release -p berth -p berth-bench" >&2; exit 1; }
[ -f plugins/hello.wasm ] || "$BIN/berth" build plugins >/dev/null

dir=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
cp plugins/hello.wasm "$dir/"
"$BIN/native-hello" 18101 >/dev/null &
RUST_LOG=warn "$BIN/berth" serve --port 18102 --engine wasmtime --plugins "$dir" >/dev/null &
RUST_LOG=warn "$BIN/berth" serve --port 18103 --engine wasmi --plugins "$dir" >/dev/null &
for port in 18101 18102 18103; do
  for _ in $(seq 100); do curl -sf "localhost:$port/hello" >/dev/null && break; sleep 0.1; done
done

declare -A runs
names=(native wasmtime wasmi); ports=(18101 18102 18103)
for round in $(seq "$ROUNDS"); do
  for i in 0 1 2; do
    rps=$(wrk -t1 -c"$CONNS" -d"${SECONDS_PER}s" "http://127.0.0.1:${ports[$i]}/hello" | awk '/Requests\/sec/ {print int($2)}')
    runs[${names[$i]}]+="$rps "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${runs[native]}" | median)
echo "| server | median req/s | runs | ratio to native |"
echo "|---|---:|---|---:|"
for n in "${names[@]}"; do
  m=$(echo "${runs[$n]}" | median)
  printf '| %s | %s | %s| %.2f |\n' "$n" "$m" "${runs[$n]}" "$(echo "$m / $base" | bc -l)"
done
