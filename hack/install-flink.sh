#!/usr/bin/env bash
# Installs what running Flink needs and is missing, idempotently, and prints FLINK_HOME:
#   - Java 17 from Debian (the JDK: javac and jar build the test job) when `javac` is missing;
#   - Flink 2.3.0 from PyPI (`apache-flink` + `apache-flink-libraries`, --no-deps: the Java
#     side only) into a virtual environment under .flink/ (git-ignored).
# FLINK_HOME is the installed `pyflink` package directory (bin/, conf/, lib/, opt/, plugins/).
set -euo pipefail
cd "$(dirname "$0")/.."

FLINK_VERSION=2.3.0
VENV=.flink/venv
log() { printf '==> %s\n' "$*" >&2; }

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

# python3 -m venv needs Debian's python3-venv (ensurepip).
if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv from Debian"
    apt_install python3-venv
fi

home() { "$VENV/bin/python" -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))' 2>/dev/null; }

installed=""
if [ -x "$VENV/bin/python" ]; then
    installed=$("$VENV/bin/python" -m pip show apache-flink 2>/dev/null | awk '/^Version:/ {print $2}')
fi
if [ "$installed" != "$FLINK_VERSION" ] || [ ! -d "$(home)/lib" ] || [ -z "$(ls "$(home)"/lib/flink-dist*.jar 2>/dev/null)" ]; then
    log "installing Flink $FLINK_VERSION from PyPI into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION"
fi

FLINK_HOME=$(home)
[ -n "$(ls "$FLINK_HOME"/lib/flink-dist*.jar 2>/dev/null)" ] || { echo "error: no flink-dist jar in $FLINK_HOME/lib" >&2; exit 1; }
echo "$FLINK_HOME"
