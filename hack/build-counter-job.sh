#!/usr/bin/env bash
# Builds the example counter job (examples/counter-job) against the installed Flink and puts the
# jar where the example manifests point: local:///opt/flink/usrlib/flinklet-counter-job.jar, that
# is $FLINK_HOME/usrlib/ (/opt/flink names the distribution Flinklet runs). Prints the jar's path.
# Rebuilds only when a source is newer than the jar.
set -euo pipefail
cd "$(dirname "$0")/.."

FLINK_HOME=$(bash hack/install-flink.sh)
jar="$FLINK_HOME/usrlib/flinklet-counter-job.jar"
sources=$(find examples/counter-job/src -name '*.java')
if [ -f "$jar" ] && [ -z "$(find examples/counter-job/src -name '*.java' -newer "$jar")" ]; then
    echo "$jar"
    exit 0
fi
echo "==> building the counter job" >&2
classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
# shellcheck disable=SC2086
javac --release 17 -Xlint:all -Werror -cp "$FLINK_HOME/lib/*" -d "$classes" $sources
mkdir -p "$FLINK_HOME/usrlib"
jar --create --file "$jar.tmp" --main-class dev.flinklet.examples.CounterJob -C "$classes" .
mv "$jar.tmp" "$jar"
echo "$jar"
