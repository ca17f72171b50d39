#!/usr/bin/env bash
# Installs what building and testing Gatehouse needs, when it is missing (Debian 12, as root).
set -euo pipefail

if [[ -d /opt/swift/usr/bin && ":$PATH:" != *":/opt/swift/usr/bin:"* ]]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

need_apt=()
# wrk drives the reload-under-load test; openssl makes the TLS tests' certificates.
for pkg in libuv1-dev libssl-dev libhttp-parser-dev libsqlite3-dev pkg-config wrk openssl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# The template tests compare with the Apache Velocity oracle in ../shared/oracle/vtl when it is
# there (CI has it); it runs on these Debian packages.
if [[ -x "$(dirname "${BASH_SOURCE[0]}")/../../shared/oracle/vtl/vtl-oracle" ]]; then
  for pkg in openjdk-17-jdk-headless velocity libjsonpath-java libslf4j-java; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
  done
fi
if ((${#need_apt[@]})); then
  echo "deps: installing ${need_apt[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ "${GATEHOUSE_SKIP_PY_DEPS:-}" != 1 ]] && ! python3 -c "import boto3, botocore, moto, flask, flask_cors, pytest, requests" 2>/dev/null; then
  echo "deps: installing Python test clients (boto3, moto[server], pytest, requests)"
  python3 -m pip install -q boto3 "moto[server]" pytest requests
fi
