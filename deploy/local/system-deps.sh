#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Chromium (browser e2e test), a CJK
# font (or the Chinese dashboard renders as boxes), Prometheus (scrape-config test),
# PostgreSQL (stack.sh installs it itself), Java + Maven (Kafka). Idempotent; Debian only.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-zenhei)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "[deps] missing system packages: ${need[*]} — run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "[deps] installing from Debian's packages: ${need[*]} (first run only)…" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
