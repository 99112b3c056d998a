#!/usr/bin/env bash
# Install and start a Docker engine for layerlab on Debian, as root.
#
#   bash scripts/engine.sh start     install Debian's docker.io if needed, start dockerd, wait
#   bash scripts/engine.sh status    say whether an engine answers on the default socket
#   bash scripts/engine.sh stop      stop the dockerd this script started
#
# The engine gets no bridge network (--bridge=none, no iptables, no forwarding): containers
# see only their own loopback. When an engine already answers, `start` does nothing.
set -euo pipefail

command=${1:-start}
LOG=${LAYERLAB_ENGINE_LOG:-/var/log/layerlab-dockerd.log}
PIDFILE=/run/layerlab-dockerd.pid
WAIT_SECONDS=${LAYERLAB_ENGINE_WAIT:-90}
unset DOCKER_HOST DOCKER_CONTEXT  # this script manages the local engine only
export DEBIAN_FRONTEND=noninteractive

say() { printf 'engine.sh: %s\n' "$*"; }

answers() {
    local cli
    cli=$(command -v docker || true)
    [ -n "$cli" ] && timeout 10 "$cli" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "installing or starting the engine needs root; run: sudo bash $0 $command"
        exit 1
    fi
}

install_engine() {
    if command -v dockerd >/dev/null 2>&1; then
        return
    fi
    need_root
    say "installing Debian's docker.io"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
}

start_engine() {
    if answers; then
        say "an engine already answers: $(docker version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}')"
        return
    fi
    install_engine
    need_root
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        say "dockerd (pid $(cat "$PIDFILE")) is running but does not answer yet"
    else
        say "starting dockerd (no bridge network), log in $LOG"
        mkdir -p "$(dirname "$LOG")"
        nohup dockerd --bridge=none --iptables=false --ip-forward=false >>"$LOG" 2>&1 &
        echo $! >"$PIDFILE"
    fi
    for _ in $(seq "$WAIT_SECONDS"); do
        if answers; then
            say "ready: $(docker version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}')"
            return
        fi
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            say "dockerd exited; the end of its log:"
            tail -n 20 "$LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
    say "dockerd did not answer within ${WAIT_SECONDS}s; see $LOG"
    exit 1
}

stop_engine() {
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        kill "$(cat "$PIDFILE")"
        for _ in $(seq 30); do
            kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
            sleep 1
        done
        rm -f "$PIDFILE"
        say "stopped"
    else
        say "no engine started by this script is running"
    fi
}

case "$command" in
    start) start_engine ;;
    stop) stop_engine ;;
    status)
        if answers; then say "an engine answers"; else say "no engine answers"; exit 1; fi ;;
    *) say "usage: $0 start|status|stop"; exit 2 ;;
esac
