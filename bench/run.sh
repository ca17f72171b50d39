#!/usr/bin/env bash
# Gatehouse benchmark: Gatehouse vs nginx and haproxy on loopback, measured with wrk.
# See bench/README.md. Usage: bench/run.sh [--only LIST] [--help]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2s}
WORKER_COUNTS=${BENCH_WORKERS:-1 2}
IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}
HAPROXY_REUSE=${BENCH_HAPROXY_REUSE:-safe}
GATEHOUSE_BIN=${BENCH_GATEHOUSE_BIN:-}

ALL_ITEMS=(nginx-proxy gatehouse-proxy haproxy nginx-return gatehouse-pipeline rss-gatehouse rss-nginx)
ONLY=""

usage() {
  cat <<EOF
Usage: bench/run.sh [--only LIST]

  --only LIST   comma-separated subset. A word selects every item whose name is the word or
                contains it as a dash-separated part. Items:
                  ${ALL_ITEMS[*]}
                e.g. --only nginx,haproxy   (no Gatehouse: no swift build, no Gatehouse rows)
                     --only gatehouse       (gatehouse-proxy, gatehouse-pipeline, rss-gatehouse)
                     --only proxy,haproxy   (the proxies only)   --only rss   (RSS test only)

Environment: BENCH_DURATION (10s) BENCH_CONNECTIONS (64) BENCH_THREADS (2) BENCH_ROUNDS (3)
  BENCH_WARMUP (2s) BENCH_WORKERS ("1 2") BENCH_IDLE_CONNECTIONS (10000)
  BENCH_HAPROXY_REUSE (safe) BENCH_GATEHOUSE_BIN (use this binary, skip the build)
  BENCH_KEEP_TMP=1 (keep the temp dir with the rendered configs; logs go to bench/results/)
EOF
}

while (($#)); do
  case "$1" in
    --only) ONLY=${2:?--only needs a list}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

selected() {  # selected ITEM: is ITEM in the --only subset?
  [[ -z "$ONLY" ]] && return 0
  local word
  local IFS=,
  for word in $ONLY; do
    [[ -z "$word" ]] && continue
    if [[ "$1" == "$word" || "-$1-" == *"-$word-"* ]]; then return 0; fi
  done
  return 1
}

if [[ -n "$ONLY" ]]; then
  IFS=, read -r -a words <<<"$ONLY"
  for word in "${words[@]}"; do
    hit=0
    for item in "${ALL_ITEMS[@]}"; do
      if [[ "$item" == "$word" || "-$item-" == *"-$word-"* ]]; then hit=1; fi
    done
    ((hit)) || { echo "run.sh: --only: \"$word\" matches none of: ${ALL_ITEMS[*]}" >&2; exit 2; }
  done
fi

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------------------------
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export PATH="$PATH:/usr/sbin:/sbin"

apt_install() {  # waits for (and retries on) the dpkg lock held by another apt run
  local try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq "$@" >/dev/null; then
      return 0
    fi
    if ((try == 1)); then $SUDO apt-get -o DPkg::Lock::Timeout=120 update -qq || true; fi
    log "apt-get install $* failed (lock held?); retrying in 10s ($try/10)"
    sleep 10
  done
  return 1
}

missing=()
for tool in nginx haproxy wrk; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

NEED_SIGNING=0
if selected gatehouse-pipeline || selected nginx-return; then NEED_SIGNING=1; fi
if ((NEED_SIGNING)) && ! python3 -c "import botocore" 2>/dev/null; then
  log "installing boto3/botocore"
  python3 -m pip install -q boto3 || apt_install python3-boto3
fi

NEED_GATEHOUSE=0
for item in gatehouse-proxy gatehouse-pipeline rss-gatehouse; do
  if selected "$item"; then NEED_GATEHOUSE=1; fi
done

# ---------------------------------------------------------------------------------------------
# 2. Gatehouse (release)
# ---------------------------------------------------------------------------------------------
if ((NEED_GATEHOUSE)); then
  if [[ -z "$GATEHOUSE_BIN" ]]; then
    [[ -d /opt/swift/usr/bin && ":$PATH:" != *":/opt/swift/usr/bin:"* ]] && export PATH="/opt/swift/usr/bin:$PATH"
    log "building gatehouse (swift build -c release --product gatehouse)"
    (cd "$ROOT" && swift build -c release --product gatehouse)
    GATEHOUSE_BIN="$ROOT/.build/release/gatehouse"
  fi
  [[ -x "$GATEHOUSE_BIN" ]] || { echo "run.sh: no gatehouse binary at $GATEHOUSE_BIN" >&2; exit 1; }
fi

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every server is a child of this shell, killed (with its children) on exit.
# ---------------------------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
STAMP=$(date +%Y%m%d-%H%M%S)
OUT="$BENCH_DIR/results/$STAMP"
mkdir -p "$OUT/logs"
PIDS=()
declare -A STOPPED
FAILED=0

descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null || true); do
    echo "$child"
    descendants "$child"
  done
}

stop_pid() {  # TERM a process and its descendants, KILL what is left after 5s
  local pid=$1 all p i
  [[ -n "${STOPPED[$pid]:-}" ]] && return 0
  STOPPED[$pid]=1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  all=("$pid" $(descendants "$pid"))
  kill -TERM "${all[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  kill -KILL "${all[@]}" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid f
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  for f in "$TMP"/*/error.log; do [[ -s "$f" ]] && cp "$f" "$OUT/logs/$(basename "$(dirname "$f")")-error.log"; done
  if [[ "${BENCH_KEEP_TMP:-0}" == 1 ]]; then
    log "temp dir kept: $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Enough descriptors for 10k idle connections, on both the servers and the helper.
HARD_NOFILE=$(ulimit -Hn)
NOFILE=65536
if [[ "$HARD_NOFILE" != unlimited ]] && ((HARD_NOFILE < NOFILE)); then NOFILE=$HARD_NOFILE; fi
ulimit -n "$NOFILE"
if ((IDLE_CONNECTIONS + 200 > NOFILE)); then
  IDLE_CONNECTIONS=$((NOFILE - 200))
  log "open-files limit is $NOFILE: RSS test uses $IDLE_CONNECTIONS idle connections"
fi
WORKER_CONNECTIONS=$((IDLE_CONNECTIONS + 1024))
((WORKER_CONNECTIONS > NOFILE)) && WORKER_CONNECTIONS=$NOFILE

helper() { python3 "$BENCH_DIR/benchlib.py" "$@"; }

render() {  # render TEMPLATE OUT KEY=VALUE...
  local template=$1 out=$2 kv args=()
  shift 2
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$template" >"$out"
  if grep -q '@[A-Z_]*@' "$out"; then echo "run.sh: unfilled placeholder in $out" >&2; exit 1; fi
}

wait_ready() {  # wait_ready PID PORT LOG: the process is up and its port accepts connections
  local pid=$1 port=$2 logfile=$3 i
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited before listening on $port; last lines of $logfile:"
      tail -n 15 "$logfile" >&2 || true
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "nothing listens on $port after 20s; last lines of $logfile:"
  tail -n 15 "$logfile" >&2 || true
  return 1
}

# Started servers: name -> port / pid / log
declare -A PORT_OF PID_OF LOG_OF

launch() {  # launch NAME PORT CMD...: start a server in the background, wait until it listens
  local name=$1 port=$2
  shift 2
  local logfile="$OUT/logs/$name.log"
  "$@" >"$logfile" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  PORT_OF[$name]=$port PID_OF[$name]=$pid LOG_OF[$name]=$logfile
  wait_ready "$pid" "$port" "$logfile"
}

start_nginx() {  # start_nginx NAME PORT TEMPLATE KEY=VALUE...
  local name=$1 port=$2 template=$3
  shift 3
  local dir="$TMP/$name"
  mkdir -p "$dir"
  render "$BENCH_DIR/$template" "$dir/nginx.conf" DIR="$dir" PORT="$port" NOFILE="$NOFILE" \
    WORKER_CONNECTIONS="$WORKER_CONNECTIONS" "$@"
  launch "$name" "$port" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;'
}

start_haproxy() {  # start_haproxy NAME PORT WORKERS
  local name=$1 port=$2 workers=$3
  local dir="$TMP/$name"
  mkdir -p "$dir"
  render "$BENCH_DIR/haproxy.cfg.in" "$dir/haproxy.cfg" PORT="$port" WORKERS="$workers" \
    UPSTREAM_PORT="$UPSTREAM_PORT" REUSE="$HAPROXY_REUSE"
  launch "$name" "$port" haproxy -f "$dir/haproxy.cfg" -db
}

start_gatehouse() {  # start_gatehouse NAME PORT WORKERS proxy|pipeline
  local name=$1 port=$2 workers=$3 kind=$4
  local args=(serve --conf "$BENCH_DIR/gatehouse-limits.yaml")
  if [[ "$kind" == proxy ]]; then
    args+=(--template "$BENCH_DIR/proxy-api.yaml" --parameter-overrides "UpstreamUrl=http://127.0.0.1:$UPSTREAM_PORT")
  else
    args+=(--template "$BENCH_DIR/pipeline-api.yaml" --credentials "$BENCH_DIR/credentials.yaml"
      --region us-east-1 --account-id 123456789012)
  fi
  args+=(--listen "127.0.0.1:$port" --workers "$workers" --access-log off)
  launch "$name" "$port" "$GATEHOUSE_BIN" "${args[@]}"
}

tree_rss_kb() {  # VmRSS summed over a process and its descendants
  local p total=0 v
  for p in "$1" $(descendants "$1"); do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

tree_pss_kb() {  # Pss summed over the tree (shared pages split between the processes)
  local p total=0 v
  for p in "$1" $(descendants "$1"); do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

tree_fds() {  # open descriptors summed over the tree
  local p total=0 n
  for p in "$1" $(descendants "$1"); do
    n=$(ls "/proc/$p/fd" 2>/dev/null | wc -l || true)
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------------------------------------
# 3./4. Upstream and contestants
# ---------------------------------------------------------------------------------------------
read -r -a FREE <<<"$(helper ports 16)"
next_port() { NEXT_PORT=${FREE[0]}; FREE=("${FREE[@]:1}"); }

next_port; UPSTREAM_PORT=$NEXT_PORT
log "upstream nginx (1 worker) on 127.0.0.1:$UPSTREAM_PORT"
if ! start_nginx upstream "$UPSTREAM_PORT" nginx-return.conf.in WORKERS=1 BODY=ok CONTENT_TYPE=text/plain; then
  echo "run.sh: the upstream nginx did not start" >&2
  exit 1
fi

: >"$OUT/failures.txt"
: >"$OUT/results.txt"
CONTESTANTS=()  # "id workers"

fail_contestant() {  # fail_contestant ID WORKERS REASON
  echo "$1 $2 $3" >>"$OUT/failures.txt"
  FAILED=$((FAILED + 1))
  log "FAILED: $1 x$2: $3"
}

for w in $WORKER_COUNTS; do
  for id in nginx-proxy gatehouse-proxy haproxy nginx-return gatehouse-pipeline; do
    selected "$id" || continue
    next_port
    name="$id-$w"
    log "starting $id with $w worker(s) on 127.0.0.1:$NEXT_PORT"
    case "$id" in
      nginx-proxy) start_nginx "$name" "$NEXT_PORT" nginx-proxy.conf.in WORKERS="$w" UPSTREAM_PORT="$UPSTREAM_PORT" ;;
      nginx-return) start_nginx "$name" "$NEXT_PORT" nginx-return.conf.in WORKERS="$w" BODY='{"ok":true}' CONTENT_TYPE=application/json ;;
      haproxy) start_haproxy "$name" "$NEXT_PORT" "$w" ;;
      gatehouse-proxy) start_gatehouse "$name" "$NEXT_PORT" "$w" proxy ;;
      gatehouse-pipeline) start_gatehouse "$name" "$NEXT_PORT" "$w" pipeline ;;
    esac && CONTESTANTS+=("$id $w") || fail_contestant "$id" "$w" "did not start (log: ${LOG_OF[$name]})"
  done
done

url_of() {  # url_of ID WORKERS
  local port=${PORT_OF[$1-$2]}
  case "$1" in
    *-proxy|haproxy) echo "http://127.0.0.1:$port/prod/bench" ;;
    *) echo "http://127.0.0.1:$port/prod/pipeline" ;;
  esac
}

signed() { [[ "$1" == gatehouse-pipeline || "$1" == nginx-return ]]; }

sign_for() {  # sign_for ID WORKERS: a freshly signed request file for this contestant's URL
  local file="$TMP/request-$1-$2.txt"
  helper sign --url "$(url_of "$1" "$2")" --credentials "$BENCH_DIR/credentials.yaml" --out "$file"
  echo "$file"
}

run_wrk() {  # run_wrk ID WORKERS DURATION OUTFILE
  local id=$1 w=$2 duration=$3 outfile=$4 request=""
  signed "$id" && request=$(sign_for "$id" "$w")
  BENCH_REQUEST_FILE="$request" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency \
    -s "$BENCH_DIR/wrk.lua" "$(url_of "$id" "$w")" >"$outfile" 2>&1
}

# Each contestant must answer 200 before it is measured.
READY=()
for entry in "${CONTESTANTS[@]}"; do
  read -r id w <<<"$entry"
  request=""
  signed "$id" && request=$(sign_for "$id" "$w")
  if answer=$(helper check --url "$(url_of "$id" "$w")" ${request:+--request "$request"}); then
    READY+=("$entry")
  else
    fail_contestant "$id" "$w" "bad answer: $answer"
  fi
done

# ---------------------------------------------------------------------------------------------
# 5. Measure: warm-up once per contestant, then ROUNDS interleaved rounds
# ---------------------------------------------------------------------------------------------
if ((${#READY[@]})); then
  for entry in "${READY[@]}"; do
    read -r id w <<<"$entry"
    log "warm-up $id x$w ($WARMUP)"
    run_wrk "$id" "$w" "$WARMUP" "$OUT/warmup-$id-$w.txt" || true
  done
  for ((round = 1; round <= ROUNDS; round++)); do
    for entry in "${READY[@]}"; do
      read -r id w <<<"$entry"
      out="$OUT/wrk-$id-$w-round$round.txt"
      log "round $round/$ROUNDS: $id x$w ($DURATION, $CONNECTIONS connections, $THREADS threads)"
      if run_wrk "$id" "$w" "$DURATION" "$out" && line=$(grep -m1 '^BENCH_RESULT ' "$out"); then
        echo "$id $w $round ${line#BENCH_RESULT }" >>"$OUT/results.txt"
      else
        log "wrk failed for $id x$w (see $out)"
        echo "$id $w $round wrk_failed=1" >>"$OUT/results.txt"
      fi
    done
  done
fi

# ---------------------------------------------------------------------------------------------
# 7. RSS with idle connections (fresh 1-worker servers)
# ---------------------------------------------------------------------------------------------
declare -A RSS_LINE RSS_AFTER
rss_test() {  # rss_test NAME (gatehouse|nginx)
  local kind=$1 name="rss-$1" port pid before after pss_before pss_after fds0 fds connected refused note i
  next_port; port=$NEXT_PORT
  log "RSS test: $kind (1 worker) on 127.0.0.1:$port, $IDLE_CONNECTIONS idle connections"
  if [[ "$kind" == gatehouse ]]; then
    start_gatehouse "$name" "$port" 1 proxy || { fail_contestant rss-gatehouse 1 "did not start"; return 0; }
  else
    start_nginx "$name" "$port" nginx-proxy.conf.in WORKERS=1 UPSTREAM_PORT="$UPSTREAM_PORT" ||
      { fail_contestant rss-nginx 1 "did not start"; return 0; }
  fi
  pid=${PID_OF[$name]}
  sleep 1
  before=$(tree_rss_kb "$pid"); pss_before=$(tree_pss_kb "$pid"); fds0=$(tree_fds "$pid")
  helper idle --port "$port" --count "$IDLE_CONNECTIONS" --ready "$TMP/$name.ready" &
  local hpid=$!
  PIDS+=("$hpid")
  for ((i = 0; i < 1200; i++)); do
    [[ -e "$TMP/$name.ready" ]] && break
    sleep 0.1
  done
  read -r connected refused note <"$TMP/$name.ready" || { connected=0; refused=0; note="helper gave no count"; }
  # Wait until the server has accepted them all (its descriptor count went up by that much);
  # both servers keep a silent connection for 300s here, far longer than this takes.
  for ((i = 0; i < 300; i++)); do
    fds=$(tree_fds "$pid")
    ((fds - fds0 >= connected)) && break
    sleep 0.1
  done
  sleep 1
  after=$(tree_rss_kb "$pid"); pss_after=$(tree_pss_kb "$pid"); fds=$(tree_fds "$pid")
  local accepted=$((fds - fds0))
  RSS_AFTER[$kind]=$(mb "$after")
  RSS_LINE[$kind]=$(printf '%-9s RSS before %7s MB, after %7s MB (+%s KB/connection); PSS before %s MB, after %s MB; connected %s, accepted %s%s' \
    "$kind" "$(mb "$before")" "$(mb "$after")" \
    "$(awk -v a="$after" -v b="$before" -v n="$connected" 'BEGIN { printf "%.2f", n ? (a - b) / n : 0 }')" \
    "$(mb "$pss_before")" "$(mb "$pss_after")" "$connected" "$accepted" \
    "$( ((refused)) && echo ", $refused failed to connect ($note) !" || true)")
  if ((accepted < connected)) || ((connected < IDLE_CONNECTIONS)); then
    RSS_LINE[$kind]+="  ! not all $IDLE_CONNECTIONS connections were held"
  fi
  stop_pid "$hpid"
  stop_pid "$pid"
}
selected rss-gatehouse && rss_test gatehouse
selected rss-nginx && rss_test nginx

# ---------------------------------------------------------------------------------------------
# 6. Report
# ---------------------------------------------------------------------------------------------
{
  echo
  echo "== Gatehouse benchmark $STAMP"
  echo "machine:   $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
  echo "nginx:     $(nginx -v 2>&1 | sed 's/^nginx version: //')"
  echo "haproxy:   $(haproxy -v 2>/dev/null | head -n 1 || true)"
  echo "wrk:       $( (wrk -v 2>&1 || true) | head -n 1)"
  gh_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || gh_commit+=" (+ uncommitted changes)"
  echo "gatehouse: $gh_commit${GATEHOUSE_BIN:+, $GATEHOUSE_BIN}"
  echo "load:      wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $ROUNDS interleaved round(s), warm-up $WARMUP;" \
    "haproxy http-reuse $HAPROXY_REUSE; upstream: nginx, 1 worker"
  echo
  if [[ -s "$OUT/results.txt" || -s "$OUT/failures.txt" ]]; then
    helper report --results "$OUT/results.txt" --failures "$OUT/failures.txt"
    echo
  fi
  if selected rss-gatehouse || selected rss-nginx; then
    echo "RSS with $IDLE_CONNECTIONS idle connections: gatehouse ${RSS_AFTER[gatehouse]:-n/a} MB, nginx ${RSS_AFTER[nginx]:-n/a} MB"
    for kind in gatehouse nginx; do
      [[ -n "${RSS_LINE[$kind]:-}" ]] && echo "  ${RSS_LINE[$kind]}"
    done
    echo
  fi
  echo "raw wrk output: $OUT"
} | tee "$OUT/summary.txt"

if ((FAILED)); then
  log "$FAILED contestant(s) failed to start or answer correctly"
  exit 1
fi
