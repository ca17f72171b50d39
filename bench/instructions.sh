#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: a measure that does not move with
# the load on a shared VM, for comparing two builds of Gatehouse (wall-clock figures come from
# run.sh). Counts user-space instructions in the whole Gatehouse process, over a few thousand
# keep-alive requests after a warm-up, for the two contests of run.sh:
#   proxy     GET through HTTP_PROXY to an nginx upstream (bench/proxy-api.yaml)
#   pipeline  SigV4-signed POST, resource policy, VTL request template, MOCK (bench/pipeline-api.yaml)
# Usage: bench/instructions.sh [BINARY...]   (default: a release build of this checkout)
# valgrind cannot read the DWARF of Swift 6.3 binaries, so a `strip --strip-debug` copy is run.
# Cryptography is overstated: under valgrind OpenSSL's SHA-256 runs without the CPU's SHA
# instructions.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
SECONDS_MEASURED=${BENCH_CG_SECONDS:-4}
export PATH="$PATH:/usr/sbin:/sbin"

for tool in valgrind callgrind_annotate nginx wrk python3 strip; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: needs $tool (apt-get install -y valgrind nginx wrk binutils)" >&2; exit 1; }
done

BINARIES=("$@")
if ((${#BINARIES[@]} == 0)); then
  (cd "$ROOT" && swift build -c release --product gatehouse >&2)
  BINARIES=("$ROOT/.build/release/gatehouse")
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

read -r UPSTREAM_PORT PORT <<<"$(python3 "$BENCH_DIR/benchlib.py" ports 2)"

wait_port() {  # wait_port PORT: up to 60 s (callgrind starts slowly)
  local i
  for ((i = 0; i < 600; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "instructions.sh: nothing listens on $1" >&2
  return 1
}

mkdir -p "$TMP/upstream"
sed -e "s|@WORKERS@|1|; s|@NOFILE@|4096|; s|@WORKER_CONNECTIONS@|1024|; s|@DIR@|$TMP/upstream|g" \
    -e "s|@PORT@|$UPSTREAM_PORT|; s|@BODY@|ok|; s|@CONTENT_TYPE@|text/plain|" \
    "$BENCH_DIR/nginx-return.conf.in" >"$TMP/upstream/nginx.conf"
nginx -p "$TMP/upstream" -e "$TMP/upstream/error.log" -c "$TMP/upstream/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$UPSTREAM_PORT"

measure() {  # measure BINARY proxy|pipeline: prints instructions per request
  local bin=$1 kind=$2 url args lua=() out n total pid
  strip --strip-debug -o "$TMP/gatehouse" "$bin"
  if [[ $kind == proxy ]]; then
    url="http://127.0.0.1:$PORT/prod/bench"
    args=(--template "$BENCH_DIR/proxy-api.yaml" --parameter-overrides "UpstreamUrl=http://127.0.0.1:$UPSTREAM_PORT")
  else
    url="http://127.0.0.1:$PORT/prod/pipeline"
    args=(--template "$BENCH_DIR/pipeline-api.yaml" --credentials "$BENCH_DIR/credentials.yaml"
          --region us-east-1 --account-id 123456789012)
    lua=(-s "$BENCH_DIR/wrk.lua")
  fi
  rm -f "$TMP"/cg.out.*
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out.%p" "$TMP/gatehouse" serve \
    --conf "$BENCH_DIR/gatehouse-limits.yaml" "${args[@]}" --listen "127.0.0.1:$PORT" --workers 1 \
    --access-log off >"$TMP/gatehouse.log" 2>&1 &
  pid=$!
  wait_port "$PORT"
  if [[ $kind == pipeline ]]; then
    python3 "$BENCH_DIR/benchlib.py" sign --url "$url" --credentials "$BENCH_DIR/credentials.yaml" --out "$TMP/request.txt"
    export BENCH_REQUEST_FILE="$TMP/request.txt"
  else
    unset BENCH_REQUEST_FILE
  fi
  wrk -t1 -c4 -d2s "${lua[@]}" "$url" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  out=$(wrk -t1 -c4 -d"${SECONDS_MEASURED}s" "${lua[@]}" "$url")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  if grep -q "Non-2xx" <<<"$out"; then echo "instructions.sh: $kind answered errors" >&2; return 1; fi
  total=$(callgrind_annotate "$(ls "$TMP"/cg.out.*.1)" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo $((total / n))
}

printf '%-12s %-10s %s\n' "contest" "instr/req" "binary"
for bin in "${BINARIES[@]}"; do
  for kind in proxy pipeline; do
    printf '%-12s %-10s %s\n' "$kind" "$(measure "$bin" "$kind")" "$bin"
  done
done
