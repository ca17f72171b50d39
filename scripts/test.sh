#!/usr/bin/env bash
# Runs every test: the Swift unit tests, then the end-to-end tests, which start the release
# binary on loopback ports and call it with botocore-signed requests (and moto's server).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

swift build -c release --product gatehouse
swift test --parallel
GATEHOUSE_BIN="$PWD/.build/release/gatehouse" python3 -m pytest -q Tests/EndToEnd
