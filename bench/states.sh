#!/usr/bin/env bash
# StartExecution through the gateway into the embedded engine, with its store on and off.
#
# Both contestants serve the seed (conf/gatehouse.yaml: account B's API and state machine) with
# one worker; wrk sends the seed's request - POST /dev/execution, SigV4-signed as
# states.amazonaws.com for state machine A (signed X-Amz-Source-Arn), so SigV4, the resource
# policy, the mapping and the AWS integration all run - and each call starts an execution of
# B's Pass state machine in the embedded engine. "store on" keeps every execution in an SQLite
# file (--states-db; a write at the start and one at the end); "store off" keeps them in memory.
# Rounds are interleaved; the ratio is on/off from the same run.
#
# Usage: bench/states.sh   Environment: BENCH_DURATION (5s) BENCH_ROUNDS (3) BENCH_CONNECTIONS (32)
#   BENCH_GATEHOUSE_BIN (use this binary, skip the build)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
BIN=${BENCH_GATEHOUSE_BIN:-}
for tool in wrk python3; do command -v "$tool" >/dev/null || { echo "states.sh: needs $tool" >&2; exit 1; }; done
if [[ -z "$BIN" ]]; then
  (cd "$ROOT" && swift build -c release --product gatehouse >&2)
  BIN="$ROOT/.build/release/gatehouse"
fi
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

# The seed's conf, with its paths made absolute and API Gateway's default account throttle
# (10,000 requests a second) lifted, as bench/gatehouse-limits.yaml does for run.sh.
sed -e "s|^template: |template: $ROOT/conf/|" -e "s|^credentialsFile: |credentialsFile: $ROOT/conf/|" \
  "$ROOT/conf/gatehouse.yaml" >"$TMP/seed.yaml"
printf 'throttle:\n  rateLimit: 100000000\n  burstLimit: 100000000\n' >>"$TMP/seed.yaml"

start() {  # start NAME EXTRA-ARGS...: prints the port
  local name=$1; shift
  "$BIN" serve --conf "$TMP/seed.yaml" --listen 127.0.0.1:0 --workers 1 --access-log off "$@" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    if grep -q "^listening on http" "$TMP/$name.log"; then
      sed -n 's/^listening on http:\/\/[^ ]*:\([0-9]*\) .*/\1/p' "$TMP/$name.log"; return
    fi
    sleep 0.1
  done
  echo "states.sh: $name did not start" >&2; cat "$TMP/$name.log" >&2; exit 1
}

ON_PORT=$(start store-on --states-db "$TMP/states.db")
OFF_PORT=$(start store-off)
SOURCE_ARN=arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine
BODY='{"input": "{\"someKey\":\"someValue\"}", "stateMachineArn": "arn:aws:states:us-east-1:222222222222:stateMachine:DestinationStateMachine"}'
for name in on off; do
  port=$ON_PORT; [[ $name == off ]] && port=$OFF_PORT
  python3 "$BENCH_DIR/benchlib.py" sign --url "http://127.0.0.1:$port/dev/execution" \
    --credentials "$ROOT/conf/credentials.yaml" --key AKIDSTATESA --header "X-Amz-Source-Arn:$SOURCE_ARN" \
    --body "$BODY" --out "$TMP/request-$name.txt"
done

run() {  # run NAME PORT DURATION: prints the BENCH_RESULT line
  BENCH_REQUEST_FILE="$TMP/request-$1.txt" wrk -t2 -c"$CONNECTIONS" -d"$3" --latency -s "$BENCH_DIR/wrk.lua" \
    "http://127.0.0.1:$2/dev/execution" | grep '^BENCH_RESULT'
}
run on "$ON_PORT" 2s >/dev/null
run off "$OFF_PORT" 2s >/dev/null
declare -A RPS P99 ERR
for r in $(seq "$ROUNDS"); do
  for name in on off; do
    port=$ON_PORT; [[ $name == off ]] && port=$OFF_PORT
    line=$(run "$name" "$port" "$DURATION")
    echo "round $r store-$name: $line" >&2
    RPS[$name]+="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line") "
    P99[$name]+="$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line") "
    ERR[$name]=$(( ${ERR[$name]:-0} + $(sed 's/.*status=\([0-9]*\).*/\1/' <<<"$line") ))
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rows=$(sqlite3 "$TMP/states.db" "SELECT count(*) FROM executions" 2>/dev/null || echo "?")
on_rps=$(median "${RPS[on]}"); off_rps=$(median "${RPS[off]}")
on_p99=$(median "${P99[on]}"); off_p99=$(median "${P99[off]}")
echo
echo "StartExecution through the gateway into the embedded engine ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), 1 worker, wrk -t2 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, medians)"
printf '%-26s %10s %9s %8s %12s\n' contestant req/s p99-ms errors "vs store off"
printf '%-26s %10.0f %9.3f %8d %12.2f\n' "store on (SQLite file)" "$on_rps" "$on_p99" "${ERR[on]}" "$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN{print a/b}')"
printf '%-26s %10.0f %9.3f %8d %12.2f\n' "store off (in memory)" "$off_rps" "$off_p99" "${ERR[off]}" 1
echo "executions in the store file at the end: $rows"
