#!/usr/bin/env bash
# Template rendering speed: Gatehouse's engine (release) against the Apache Velocity oracle's
# batch mode (JVM, warm) and airspeed (Python, from PyPI), on bench/vtl/case.json: a 19-line
# template (loop, sum, escapes, JSONPath, $context) and a 2 KB JSON body. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CASE=bench/vtl/case.json
ORACLE=${VTL_ORACLE:-../shared/oracle/vtl/vtl-oracle}

swift build -c release --product vtl-bench >&2
ours=$(.build/release/vtl-bench "$CASE" 20000)
echo "$ours"
ours_us=$(head -1 <<<"$ours" | sed -E 's/.*: ([0-9.]+) µs per render.*/\1/')

if [[ -x "$ORACLE" ]]; then
  oracle_us=$(python3 - "$ORACLE" "$CASE" <<'PY'
import json, statistics, subprocess, sys
oracle, path = sys.argv[1], sys.argv[2]
case = json.load(open(path))
n = 6000
data = "".join(json.dumps(dict(case, id=i)) + "\n" for i in range(n)).encode()
out = subprocess.run([oracle, "--batch"], input=data, capture_output=True, check=True).stdout.decode().splitlines()
ms = [json.loads(l)["ms"] for l in out]
print("%.1f" % (statistics.median(ms[n // 2:]) * 1000))   # warm: the second half of the batch
PY
)
  echo "oracle (Apache Velocity 1.7 in the JVM, batch mode, warm): $oracle_us µs per render (its own timer)"
  python3 -c "print('ratio: Gatehouse is %.1fx faster than the oracle' % ($oracle_us / $ours_us))"
  # The batch's throughput as a whole (reading, rendering, writing a JSON line), warm: the wall
  # time of 10,000 cases minus that of 2,000, per case — for the oracle and for render --batch.
  python3 - "$ORACLE" "$CASE" "$ours_us" <<'PY'
import json, subprocess, sys, time
oracle, path, ours_us = sys.argv[1], sys.argv[2], float(sys.argv[3])
case = json.load(open(path))
def per_case(cmd):
    def run(n):
        data = "".join(json.dumps(dict(case, id=i)) + "\n" for i in range(n)).encode()
        t = time.time()
        subprocess.run(cmd, input=data, capture_output=True, check=True)
        return time.time() - t
    return (run(10000) - run(2000)) / 8000 * 1e6
o = per_case([oracle, "--batch"])
g = per_case([".build/release/gatehouse", "render", "--batch"])
print("batch throughput, warm: oracle %.1f µs per case, gatehouse render --batch %.1f µs per case (%.1fx); "
      "the engine's %.1f µs render is %.1fx the oracle's batch" % (o, g, o / g, ours_us, o / ours_us))
PY
else
  echo "oracle: skipped ($ORACLE not found; ../shared is needed)"
fi

if ! python3 -c "import airspeed" 2>/dev/null; then
  python3 -m pip install --quiet airspeed >&2 || pip3 install --quiet --break-system-packages airspeed >&2
fi
air=$(python3 bench/vtl/airspeed_bench.py "$CASE" 2000)
echo "$air"
air_us=$(sed -E 's/.*: ([0-9.]+) us per render.*/\1/' <<<"$air")
python3 -c "print('ratio: Gatehouse is %.1fx faster than airspeed' % ($air_us / $ours_us))"
