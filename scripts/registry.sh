#!/usr/bin/env bash
# A container registry on 127.0.0.1 for layerlab's official-image path, as root on Debian.
#
#   bash scripts/registry.sh start [PORT]   install if needed, start, wait until it answers
#   bash scripts/registry.sh stop [PORT]    stop the registry this script started on PORT
#   bash scripts/registry.sh seed [PORT]    push the course's stand-ins under the official names
#                                           (PORT/library/alpine:3.20.3, .../debian:bookworm-20241111-slim)
#                                           to the engine DOCKER_HOST names; prints their digests
#   bash scripts/registry.sh env [PORT]     print the exports that point the course at it
#                                           (LAYERLAB_REGISTRY and, once seeded, LAYERLAB_BASE_DIGESTS)
#
# PORT defaults to $LAYERLAB_REGISTRY_PORT or 5000. The registry listens on 127.0.0.1 only,
# keeps its config and storage in /var/lib/layerlab/registry/PORT ($LAYERLAB_REGISTRY_DIR
# overrides the parent), its pid in /run/layerlab/registry-PORT.pid and its log in
# /var/log/layerlab/registry-PORT.log (with LAYERLAB_REGISTRY_DIR, both beside the storage:
# a learner who is not root, testing a rootless engine's own loopback, can write there). Engines trust 127.0.0.0/8 registries over plain HTTP
# by default ("InsecureRegistryCIDRs": ["127.0.0.0/8"]), so no engine setting changes, and no
# registry mirror is ever configured.
#
# The binary comes from Debian's docker-registry package. The package's maintainer script
# starts its own service on port 5000 of every interface, so the package is not installed:
# it is downloaded and unpacked under /opt/layerlab-registry (unless /usr/bin/docker-registry
# is already there), and this script runs the binary itself.
set -euo pipefail

command=${1:-start}
port=${2:-${LAYERLAB_REGISTRY_PORT:-5000}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PREFIX=/opt/layerlab-registry
RUN_DIR=/run/layerlab
LOG_DIR=/var/log/layerlab
DATA_DIR=${LAYERLAB_REGISTRY_DIR:-/var/lib/layerlab/registry}/$port
WAIT_SECONDS=${LAYERLAB_REGISTRY_WAIT:-30}
if [ -n "${LAYERLAB_REGISTRY_DIR:-}" ]; then  # a folder of the caller's own: pid and log go there too
    RUN_DIR=$DATA_DIR
    LOG_DIR=$DATA_DIR
fi
pidfile=$RUN_DIR/registry-$port.pid
log=$LOG_DIR/registry-$port.log
address=127.0.0.1:$port
export DEBIAN_FRONTEND=noninteractive

say() { printf 'registry.sh: %s\n' "$*"; }

case "$port" in ''|*[!0-9]*) say "PORT must be a number, not '$port'"; exit 2 ;; esac

python_bin() {
    if [ -x "$root/.venv/bin/python" ]; then printf '%s\n' "$root/.venv/bin/python"; else command -v python3; fi
}

binary() {
    if [ -x /usr/bin/docker-registry ]; then printf '%s\n' /usr/bin/docker-registry; return; fi
    printf '%s\n' "$PREFIX/usr/bin/docker-registry"
}

install_registry() {
    [ -x "$(binary)" ] && return
    if [ "$(id -u)" != 0 ]; then say "installing the registry needs root; run: sudo bash $0 start $port"; exit 1; fi
    local work
    work=$(mktemp -d)
    say "downloading Debian's docker-registry (unpacked under $PREFIX, no service)"
    (cd "$work" && apt-get -q -o APT::Sandbox::User=root download docker-registry >/dev/null 2>&1) || {
        apt-get update -qq
        (cd "$work" && apt-get -q -o APT::Sandbox::User=root download docker-registry >/dev/null)
    }
    rm -rf "$PREFIX.partial" && mkdir -p "$PREFIX.partial"
    dpkg-deb -x "$work"/docker-registry_*.deb "$PREFIX.partial"
    rm -rf "$PREFIX" && mv "$PREFIX.partial" "$PREFIX"
    rm -rf "$work"
}

answers() {
    "$(python_bin)" - "$address" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(f"http://{sys.argv[1]}/v2/", timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start_registry() {
    if running && answers; then say "already answers at $address (pid $(cat "$pidfile"))"; return; fi
    install_registry
    mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR/storage"
    cat >"$DATA_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DATA_DIR/storage
  delete:
    enabled: true
http:
  addr: $address
EOF
    say "starting $(binary) on $address, storage in $DATA_DIR, log in $log"
    # setsid: the registry outlives this script (and a test's process group)
    setsid nohup "$(binary)" serve "$DATA_DIR/config.yml" >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq $((WAIT_SECONDS * 4))); do
        if answers; then say "ready at $address (pid $(cat "$pidfile"))"; return; fi
        if ! running; then break; fi
        sleep 0.25
    done
    say "the registry did not answer at $address within ${WAIT_SECONDS}s; the end of $log:"
    tail -n 20 "$log" >&2 || true
    exit 1
}

stop_registry() {
    if running; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        rm -f "$pidfile"
        say "stopped the registry at $address"
    else
        rm -f "$pidfile"
        say "no registry of this script runs at $address"
    fi
}

case "$command" in
    start) start_registry ;;
    stop) stop_registry ;;
    seed)
        answers || { say "nothing answers at $address: run 'bash $0 start $port' first"; exit 1; }
        say "pushing the course's stand-ins to $address under the official names"
        "$(python_bin)" -m layerlab.engine.prepare seed "$address"
        ;;
    env)
        printf 'export LAYERLAB_REGISTRY=%s\n' "$address"
        if answers; then
            "$(python_bin)" -m layerlab.engine.prepare digests "$address" | grep '^export ' || true
        fi
        ;;
    *) say "usage: $0 start|stop|seed|env [PORT]"; exit 2 ;;
esac
