#!/usr/bin/env bash
# Builds the example counter job (examples/counter-job) against every installed Flink
# distribution (.flink/flink-*/; hack/install-flink.sh installs the newest when there is none),
# one jar per distribution, and puts each where the example manifests point:
# local:///opt/flink/usrlib/flinklet-counter-job.jar, that is $FLINK_HOME/usrlib/ (/opt/flink
# names the distribution of the resource's spec.flinkVersion). Prints the jars' paths, one a line.
# Rebuilds a jar only when a source is newer than it.
set -euo pipefail
cd "$(dirname "$0")/.."

homes=$(ls -d "$PWD"/.flink/flink-*/ 2>/dev/null | sed 's:/$::' || true)
[ -n "$homes" ] || homes=$(bash hack/install-flink.sh)
sources=$(find examples/counter-job/src -name '*.java')
for FLINK_HOME in $homes; do
    [ -n "$(ls "$FLINK_HOME"/lib/flink-dist*.jar 2>/dev/null)" ] || continue
    jar="$FLINK_HOME/usrlib/flinklet-counter-job.jar"
    if [ -f "$jar" ] && [ -z "$(find examples/counter-job/src -name '*.java' -newer "$jar")" ]; then
        echo "$jar"
        continue
    fi
    echo "==> building the counter job for $(basename "$FLINK_HOME")" >&2
    classes=$(mktemp -d)
    # shellcheck disable=SC2086
    javac --release 17 -Xlint:all -Werror -cp "$FLINK_HOME/lib/*" -d "$classes" $sources
    mkdir -p "$FLINK_HOME/usrlib"
    jar --create --file "$jar.tmp" --main-class dev.flinklet.examples.CounterJob -C "$classes" .
    mv "$jar.tmp" "$jar"
    rm -rf "$classes"
    echo "$jar"
done
