#!/usr/bin/env bash
# The main job: builds Gatehouse (release) and runs the whole seed scenario on this machine with
# the embedded defaults (`gatehouse demo`, conf/seed.yaml): account A's state machine calls
# account B's API with arn:aws:states:::apigateway:invoke (AuthType RESOURCE_POLICY), which starts
# B's state machine; then A', whose ARN B's resource policy does not name, gets ApiGateway.403.
# With --serve, both stacks then keep serving on 127.0.0.1:8080 (extra arguments go to `serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
GATEHOUSE_SKIP_PY_DEPS=1 source scripts/deps.sh

swift build -c release --product gatehouse
.build/release/gatehouse demo --conf conf/seed.yaml
if [[ "${1:-}" == "--serve" ]]; then
  shift
  exec .build/release/gatehouse serve --conf conf/seed.yaml "$@"
fi
