#!/usr/bin/env bash
# WebSocket echo messages/s and memory per idle connection: a native tokio-tungstenite
# echo vs berth's /ws/echo route (the ws-echo plugin) on wasmtime and on wasmi, measured
# in one run with the servers interleaved round by round, printed as a markdown table
# with ratios to the native baseline. Loopback only; bounded in time and count.
#
#   bench/ws-echo.sh        # after: cargo build --release -p berth -p berth-bench
#
# Environment: ROUNDS (3), CONNS (100), MESSAGES (1000) per connection, IDLE (2000)
# idle connections, TARGET (cargo's target dir).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-100} MESSAGES=${MESSAGES:-1000} IDLE=${IDLE:-2000}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-target}}
BIN="$TARGET/release"
for b in berth native-ws-echo ws-load; do
  [ -x "$BIN/$b" ] || { echo "build first: cargo build --release -p berth -p berth-bench" >&2; exit 1; }
done
[ -f plugins/ws-echo.wasm ] || "$BIN/berth" build plugins >/dev/null
ulimit -n $((IDLE * 2 + 1024)) 2>/dev/null || true

dir=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
cp plugins/ws-echo.wasm "$dir/"
printf '[limits]\nws_max_connections = %d\n' $((IDLE * 2)) > "$dir/berth.toml"
"$BIN/native-ws-echo" 18201 & pids[0]=$!
RUST_LOG=warn "$BIN/berth" serve --config "$dir/berth.toml" --port 18202 --engine wasmtime --plugins "$dir" >/dev/null & pids[1]=$!
RUST_LOG=warn "$BIN/berth" serve --config "$dir/berth.toml" --port 18203 --engine wasmi --plugins "$dir" >/dev/null & pids[2]=$!
names=(native wasmtime wasmi); urls=(ws://127.0.0.1:18201/ ws://127.0.0.1:18202/ws/echo ws://127.0.0.1:18203/ws/echo)
for url in "${urls[@]}"; do
  for _ in $(seq 100); do "$BIN/ws-load" echo "$url" 1 1 >/dev/null 2>&1 && break; sleep 0.1; done
done

declare -A runs
for round in $(seq "$ROUNDS"); do
  for i in 0 1 2; do
    runs[${names[$i]}]+="$("$BIN/ws-load" echo "${urls[$i]}" "$CONNS" "$MESSAGES") "
  done
done
declare -A idle
for i in 0 1 2; do
  idle[${names[$i]}]=$("$BIN/ws-load" idle "${urls[$i]}" "$IDLE" "${pids[$i]}")
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${runs[native]}" | median)
echo "| server | median messages/s | runs | ratio to native | RSS per idle connection |"
echo "|---|---:|---|---:|---:|"
for n in "${names[@]}"; do
  m=$(echo "${runs[$n]}" | median)
  printf '| %s | %s | %s| %.2f | %s B |\n' "$n" "$m" "${runs[$n]}" "$(echo "$m / $base" | bc -l)" "${idle[$n]}"
done
