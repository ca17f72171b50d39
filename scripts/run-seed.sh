#!/usr/bin/env bash
# The main job: builds Gatehouse (release) and serves the seed scenario — account B's SAM
# template, unchanged — on 127.0.0.1:8080 with the embedded Step Functions engine.
set -euo pipefail
cd "$(dirname "$0")/.."
GATEHOUSE_SKIP_PY_DEPS=1 source scripts/deps.sh

swift build -c release --product gatehouse
exec .build/release/gatehouse serve --conf conf/gatehouse.yaml "$@"
