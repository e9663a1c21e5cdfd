#!/usr/bin/env bash
# Installs what building Flinklet needs and is missing: libyaml and SQLite (Debian -dev packages), lua5.4
# (for the health-check tests) and a Swift
# toolchain check. Idempotent: a second run installs nothing. Later prerequisites (Java, Flink,
# the test job jar) get their own scripts, called from the same two entry points.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing ${missing[*]} from Debian"
    # Refresh the package lists only when they have never been fetched or are older than a day.
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
        $sudo apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if ! command -v swift >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$dir/swift" ] && export PATH="$dir:$PATH" && break
    done
fi
command -v swift >/dev/null 2>&1 || { echo "error: a Swift 6 toolchain is required (swift not found on PATH)" >&2; exit 1; }

apt_install libyaml-dev libsqlite3-dev pkg-config
# Tests: lua5.4 runs the Argo CD health checks in docs/argocd against recorded statuses.
apt_install lua5.4
# OpenSSL 3: the operator loads libssl.so.3 for its clusters' mutual TLS (dlopen, so no -dev
# package) and makes its Kubernetes API's certificate with the openssl command; tests use it
# for certificates of strangers and a TLS test server.
apt_install openssl
for lib in yaml-0.1 sqlite3; do pkg-config --exists "$lib" || { echo "error: pkg-config cannot find $lib" >&2; exit 1; }; done

# Tests: the official Kubernetes Python client (PyPI `kubernetes`) against the operator's
# Kubernetes API, in a virtual environment of its own (.python/, ignored by git).
KUBERNETES_CLIENT_VERSION=31.0.0
if ! .python/bin/python -c "import kubernetes, sys; sys.exit(kubernetes.__version__ != '$KUBERNETES_CLIENT_VERSION')" >/dev/null 2>&1; then
    python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_install python3-venv
    [ -x .python/bin/python ] || python3 -m venv .python
    log "installing the Kubernetes Python client $KUBERNETES_CLIENT_VERSION from PyPI"
    .python/bin/python -m pip install --quiet --disable-pip-version-check "kubernetes==$KUBERNETES_CLIENT_VERSION"
fi
