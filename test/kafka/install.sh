#!/usr/bin/env bash
# Fetches the jars of a real Apache Kafka broker from Maven Central for the tests.
# They go outside the clone so every clone and CI run shares them; Maven's ~/.m2
# also keeps the downloads, so a reinstall does not hit the network.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="${script_dir}/pom.xml"
kafka_home="${SWITCHBOARD_KAFKA_HOME:-${HOME}/.cache/switchboard/kafka-3.9.2}"
libs_dir="${kafka_home}/libs"
marker="${kafka_home}/installed"

# The marker records which pom the jars came from, so editing the pom reinstalls.
pom_digest="$(sha256sum "${pom}" | cut -d ' ' -f 1)"

if [[ -f "${marker}" && "$(cat "${marker}")" == "${pom_digest}" && -d "${libs_dir}" ]]; then
  echo "Kafka jars already installed in ${libs_dir}"
  exit 0
fi

mkdir -p "${kafka_home}"
# Copy into a fresh directory and move it into place only once complete, so an
# interrupted install never leaves a half-filled libs/ that looks usable.
staging_dir="$(mktemp -d "${kafka_home}/libs.staging.XXXXXX")"
trap 'rm -rf "${staging_dir}"' EXIT

mvn -q -B -f "${pom}" dependency:copy-dependencies \
  -DincludeScope=runtime \
  -DoutputDirectory="${staging_dir}"

if ! compgen -G "${staging_dir}/kafka_2.13-*.jar" >/dev/null; then
  echo "install.sh: Maven finished but no kafka_2.13 jar is in ${staging_dir}" >&2
  exit 1
fi

rm -f "${marker}"
rm -rf "${libs_dir}"
mv "${staging_dir}" "${libs_dir}"
echo "${pom_digest}" >"${marker}"

echo "Kafka jars installed in ${libs_dir}"
