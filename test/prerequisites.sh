#!/usr/bin/env bash
# The first step of `npm test` (its pretest): checks that the machine has what the
# tests need, and for each thing missing prints one line saying what to install,
# instead of a stack trace from deep inside the run. Exits 1 if anything is missing.
#
#   Node.js  the version package.json's `engines` asks for
#   Java 17+ runs the real Kafka broker (JAVA_HOME/bin/java if JAVA_HOME is set)
#   Maven    fetches the broker's jars from Maven Central (test/kafka/install.sh)
#   Chromium /usr/bin/chromium, which analytics/vendor-brief-chromium.test.ts opens
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=0

need() {
  echo "npm test needs $1" >&2
  missing=1
}

# Node: compare with the lowest version `engines.node` allows (">=X.Y.Z").
if ! command -v node >/dev/null 2>&1; then
  need "Node.js: install it from https://nodejs.org (or your package manager)"
else
  node_problem="$(
    node -e '
      const wanted = require(process.argv[1]).engines?.node ?? "";
      const floor = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(wanted.trim());
      if (!floor) process.exit(0);
      const have = process.versions.node.split(".").map(Number);
      const need = floor.slice(1).map(Number);
      for (let index = 0; index < 3; index += 1) {
        if (have[index] > need[index]) process.exit(0);
        if (have[index] < need[index]) {
          console.log(`Node.js ${wanted} (found ${process.version})`);
          process.exit(0);
        }
      }
    ' "${root}/package.json"
  )"
  if [[ -n "${node_problem}" ]]; then
    need "${node_problem}: install it from https://nodejs.org (or your package manager)"
  fi
fi

# Java: the major version from `java -version` ("17.0.15", or "1.8.0_392" for Java 8).
java_command="java"
if [[ -n "${JAVA_HOME:-}" ]]; then java_command="${JAVA_HOME}/bin/java"; fi
if ! command -v "${java_command}" >/dev/null 2>&1; then
  need "Java 17 or later (no ${java_command}): apt-get install -y openjdk-17-jre-headless"
else
  java_version="$("${java_command}" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  java_major="${java_version%%.*}"
  if [[ "${java_major}" == "1" ]]; then
    java_major="$(echo "${java_version}" | cut -d . -f 2)"
  fi
  if ! [[ "${java_major}" =~ ^[0-9]+$ ]] || ((java_major < 17)); then
    need "Java 17 or later (found ${java_version:-an unreadable version}): apt-get install -y openjdk-17-jre-headless"
  fi
fi

if ! command -v mvn >/dev/null 2>&1; then
  need "Maven (no mvn on the PATH): apt-get install -y maven"
fi

if [[ ! -x /usr/bin/chromium ]]; then
  need "Chromium at /usr/bin/chromium: apt-get install -y chromium"
fi

exit "${missing}"
