#!/usr/bin/env bash
# Installs what running Flink needs and is missing, idempotently, and prints each requested
# distribution's FLINK_HOME, one a line:
#   hack/install-flink.sh [VERSION ...]     VERSION: 1.20, 2.0, 2.1, 2.2, 2.3 (or 1.20.5, v1_20,
#                                           all); default: the newest, 2.3
#   - Java 17 from Debian (the JDK: javac and jar build the test job) when `javac` is missing;
#   - each Flink version from PyPI (`apache-flink` + `apache-flink-libraries`, --no-deps: the
#     Java side only) into a directory of its own, .flink/flink-<X.Y.Z>/ (git-ignored), laid out
#     as Flink's own tarball is (bin/, conf/, lib/, opt/, plugins/).
# The operator (`flinklet run`) finds every .flink/flink-*/ by itself, also one installed while
# it runs. A distribution is installed into a temporary directory and renamed into place, so a
# half-installed one is never found.
set -euo pipefail
cd "$(dirname "$0")/.."

# The releases Flinklet supports, newest last: `spec.flinkVersion` v<major>_<minor> runs these.
# Keep in step with FlinkVersion.supportedReleases (Sources/FlinkResources/FlinkVersions.swift).
RELEASES="1.20.5 2.0.2 2.1.3 2.2.1 2.3.0"
ROOT=.flink
PIP_VENV=$ROOT/pip
log() { printf '==> %s\n' "$*" >&2; }

release_of() {
    local wanted=$1 release
    wanted=${wanted#v}
    wanted=${wanted//_/.}
    for release in $RELEASES; do
        if [ "$release" = "$wanted" ] || [ "${release%.*}" = "$wanted" ]; then echo "$release"; return 0; fi
    done
    echo "error: Flink $1 is not supported; supported: ${RELEASES// /, }" >&2
    return 1
}

requested=()
if [ "$#" -eq 0 ]; then requested=("${RELEASES##* }"); fi
for argument in "$@"; do
    if [ "$argument" = all ]; then
        for release in $RELEASES; do requested+=("$release"); done
    else
        requested+=("$(release_of "$argument")")
    fi
done

apt_install() {
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
        $sudo apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v javac >/dev/null 2>&1 || ! javac -version 2>&1 | grep -qE 'javac (1[7-9]|2[0-9])'; then
    log "installing Java 17 (openjdk-17-jdk-headless) from Debian"
    apt_install openjdk-17-jdk-headless
fi

installed() { [ -n "$(ls "$ROOT/flink-$1"/lib/flink-dist*"$1".jar 2>/dev/null)" ]; }

for release in "${requested[@]}"; do
    home="$ROOT/flink-$release"
    if ! installed "$release"; then
        # python3 -m venv needs Debian's python3-venv (ensurepip); pip runs from a venv of its own.
        if [ ! -x "$PIP_VENV/bin/python" ]; then
            if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
                log "installing python3-venv from Debian"
                apt_install python3-venv
            fi
            python3 -m venv "$PIP_VENV"
        fi
        log "installing Flink $release from PyPI into $home"
        work="$ROOT/.flink-$release.tmp-$$"
        rm -rf "$work"
        trap 'rm -rf "$work"' EXIT
        "$PIP_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$work" \
            "apache-flink==$release" "apache-flink-libraries==$release"
        [ -n "$(ls "$work"/pyflink/lib/flink-dist*"$release".jar 2>/dev/null)" ] \
            || { echo "error: no flink-dist jar in $work/pyflink/lib" >&2; exit 1; }
        rm -rf "$home"
        mv "$work/pyflink" "$home"
        rm -rf "$work"
        trap - EXIT
    fi
    (cd "$home" && pwd)
done
