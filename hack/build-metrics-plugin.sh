#!/usr/bin/env bash
# Builds Flinklet's loopback Prometheus reporter (flink-plugins/metrics-prometheus-loopback) and
# installs it as a plugin of every installed Flink distribution (.flink/flink-*/; hack/install-flink.sh
# installs the newest when there is none): $FLINK_HOME/plugins/flinklet-metrics-prometheus/.
# Flink 2.3's own PrometheusReporter binds every interface; this one binds 127.0.0.1. The plugin
# jar holds the distribution's flink-metrics-prometheus classes (without their service entries,
# so no factory is registered twice) and ours. Rebuilds only when a source is newer than the jar.
# Prints the plugin directories, one a line.
set -euo pipefail
cd "$(dirname "$0")/.."

homes=$(ls -d "$PWD"/.flink/flink-*/ 2>/dev/null | sed 's:/$::' || true)
[ -n "$homes" ] || homes=$(bash hack/install-flink.sh)
for FLINK_HOME in $homes; do
    [ -n "$(ls "$FLINK_HOME"/lib/flink-dist*.jar 2>/dev/null)" ] || continue
    dir="$FLINK_HOME/plugins/flinklet-metrics-prometheus"
    jar="$dir/flinklet-metrics-prometheus.jar"
    sources=$(find flink-plugins/metrics-prometheus-loopback/src -name '*.java')
    if [ -f "$jar" ] && [ -z "$(find flink-plugins/metrics-prometheus-loopback/src -name '*.java' -newer "$jar")" ]; then
        echo "$dir"
        continue
    fi
    stock=$(ls "$FLINK_HOME"/plugins/metrics-prometheus/flink-metrics-prometheus-*.jar | head -1)
    [ -f "$stock" ] || { echo "error: no flink-metrics-prometheus jar in $FLINK_HOME/plugins/metrics-prometheus" >&2; exit 1; }
    echo "==> building the loopback Prometheus reporter plugin for $(basename "$FLINK_HOME")" >&2
    work=$(mktemp -d)
    mkdir -p "$work/classes"
    (cd "$work/classes" && jar --extract --file "$stock")
    rm -f "$work/classes/META-INF/services/org.apache.flink.metrics.reporter.MetricReporterFactory"
    # shellcheck disable=SC2086
    javac --release 17 -Xlint:all,-options -Werror -cp "$FLINK_HOME/lib/*:$stock" -d "$work/classes" $sources
    mkdir -p "$work/classes/META-INF/services"
    echo "dev.flinklet.metrics.LoopbackPrometheusReporterFactory" >"$work/classes/META-INF/services/org.apache.flink.metrics.reporter.MetricReporterFactory"
    mkdir -p "$dir"
    jar --create --file "$jar.tmp" -C "$work/classes" .
    mv "$jar.tmp" "$jar"
    rm -rf "$work"
    echo "$dir"
done
