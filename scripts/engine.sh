#!/usr/bin/env bash
# Install and start a Docker engine for layerlab on Debian, as root.
#
#   bash scripts/engine.sh start [FLAVOUR [USER]]   install if needed, start, wait until it answers
#   bash scripts/engine.sh status [FLAVOUR [USER]]  say whether that engine answers
#   bash scripts/engine.sh stop [FLAVOUR [USER]]    stop the engine this script started
#   bash scripts/engine.sh env [FLAVOUR [USER]]     print the exports that point the course at it
#   bash scripts/engine.sh install [FLAVOUR]        install that engine's packages only, start nothing
#
# Flavours (the engines learners have):
#   docker-20.10            Debian 12's docker.io: overlay2, classic builder only. The default;
#                           it serves the default socket /var/run/docker.sock.
#   docker-26               Debian 13's docker.io 26.1 + docker-buildx: overlay2 and BuildKit.
#   docker-26-containerd    the same with the containerd image store (as Docker Desktop has it).
#   docker-26-rootless      docker 26.1 run rootless by one non-root USER (default
#                           layerlab-learner; as a non-root caller, yourself): that user's own
#                           socket, data root and network namespace. See scripts/rootless.sh.
# The Debian 13 engines are unpacked side by side under /opt/layerlab-engines (Debian 12's
# runc and libc serve them) and listen on sockets of their own under /run/layerlab, so all
# three can run at once.
#
# Every engine gets no bridge network (--bridge=none, no iptables, no forwarding): containers
# see only their own loopback. When the engine already answers, `start` does nothing.
set -euo pipefail

command=${1:-start}
flavour=${2:-docker-20.10}
WAIT_SECONDS=${LAYERLAB_ENGINE_WAIT:-90}
ENGINES=/opt/layerlab-engines
RUN_DIR=/run/layerlab
DATA_DIR=/var/lib/layerlab
LOG_DIR=/var/log/layerlab
unset DOCKER_HOST DOCKER_CONTEXT  # this script manages its own engines only
export DEBIAN_FRONTEND=noninteractive

say() { printf 'engine.sh: %s\n' "$*"; }

case "$flavour" in
    docker-20.10)
        socket=/var/run/docker.sock
        prefix=""
        config_dir=""
        ;;
    docker-26|docker-26-containerd)
        socket=$RUN_DIR/$flavour.sock
        prefix=$ENGINES/docker-26
        config_dir=$prefix/cli
        ;;
    docker-26-rootless) ;;
    *) say "unknown flavour '$flavour' (docker-20.10, docker-26, docker-26-containerd, docker-26-rootless)"; exit 2 ;;
esac
pidfile=$RUN_DIR/$flavour.pid
log=$LOG_DIR/$flavour.log
# shellcheck source=rootless.sh
source "$(dirname "${BASH_SOURCE[0]}")/rootless.sh"
if [ "$flavour" = docker-26-rootless ]; then
    rootless_setup_vars "${3:-$(rootless_user_default)}"
fi

docker_cli() {
    local cli
    cli=$(command -v docker || true)
    [ -n "$prefix" ] && [ -x "$prefix/usr/bin/docker" ] && cli=$prefix/usr/bin/docker
    [ -n "$cli" ] || return 1
    env DOCKER_HOST="unix://$socket" ${config_dir:+DOCKER_CONFIG="$config_dir"} timeout 10 "$cli" "$@"
}

answers() { docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1; }

describe() { docker_cli version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "installing or starting an engine needs root; run: sudo bash $0 $command $flavour"
        exit 1
    fi
}

install_debian12() {
    command -v dockerd >/dev/null 2>&1 && return
    need_root
    say "installing Debian's docker.io"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
}

# The mirror this machine's apt already uses (never a host name written into the course).
debian_mirror() {
    local uri=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        uri=$(awk 'tolower($1)=="uris:" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(http|https|file|mirror)/) {print $i; exit}}' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || { say "no Debian mirror found in the apt sources"; exit 1; }
    printf '%s\n' "$uri"
}

install_debian13() {
    [ -x "$prefix/usr/sbin/dockerd" ] && [ -x "$prefix/usr/libexec/docker/cli-plugins/docker-buildx" ] && return
    need_root
    command -v runc >/dev/null 2>&1 || install_debian12  # Debian 12's runc serves both
    local work lists
    work=$(mktemp -d)
    lists=$work/lists
    mkdir -p "$lists/partial" "$work/debs"
    say "downloading Debian 13's docker.io, docker-buildx and containerd"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$(debian_mirror)" >"$work/sources.list"
    local apt_opts=(-q -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$lists")
    apt-get "${apt_opts[@]}" update >/dev/null
    (cd "$work/debs" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root download docker.io docker-buildx containerd docker-cli >/dev/null 2>&1 \
        || (cd "$work/debs" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root download docker.io docker-buildx containerd >/dev/null))
    mkdir -p "$prefix.partial"
    for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$prefix.partial"; done
    rm -rf "$prefix" && mv "$prefix.partial" "$prefix"
    mkdir -p "$prefix/cli/cli-plugins"
    ln -sf "$prefix/usr/libexec/docker/cli-plugins/docker-buildx" "$prefix/cli/cli-plugins/docker-buildx"
    rm -rf "$work"
}

start_containerd() {
    local address=$RUN_DIR/containerd/containerd.sock
    if [ -S "$address" ] && [ -f "$RUN_DIR/containerd.pid" ] && kill -0 "$(cat "$RUN_DIR/containerd.pid")" 2>/dev/null; then
        return
    fi
    mkdir -p "$RUN_DIR/containerd" "$DATA_DIR/containerd"
    cat >"$RUN_DIR/containerd.toml" <<EOF
version = 2
root = "$DATA_DIR/containerd"
state = "$RUN_DIR/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$address"
EOF
    say "starting containerd for the containerd image store"
    PATH=$prefix/usr/sbin:$prefix/usr/bin:$PATH nohup containerd --config "$RUN_DIR/containerd.toml" >>"$LOG_DIR/containerd.log" 2>&1 &
    echo $! >"$RUN_DIR/containerd.pid"
    for _ in $(seq 30); do [ -S "$address" ] && return; sleep 1; done
    say "containerd did not start; see $LOG_DIR/containerd.log"
    exit 1
}

start_engine() {
    if answers; then
        say "$flavour already answers: $(describe)"
        return
    fi
    need_root
    mkdir -p "$RUN_DIR" "$DATA_DIR" "$LOG_DIR"
    local flags=(--bridge=none --iptables=false --ip-forward=false)
    case "$flavour" in
        docker-20.10)
            install_debian12
            pidfile=/var/run/docker.pid  # dockerd's own default, so a later start finds it
            if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
                say "dockerd (pid $(cat "$pidfile")) is running but does not answer yet"
            else
                say "starting Debian 12's dockerd (no bridge network), log in $log"
                nohup dockerd "${flags[@]}" >>"$log" 2>&1 &
            fi
            ;;
        docker-26|docker-26-containerd)
            install_debian13
            local config=$RUN_DIR/$flavour.json
            if [ "$flavour" = docker-26-containerd ]; then
                start_containerd
                echo '{"features": {"containerd-snapshotter": true}}' >"$config"
                flags+=(--containerd "$RUN_DIR/containerd/containerd.sock")
            else
                echo '{}' >"$config"
            fi
            say "starting Debian 13's dockerd 26.1 ($flavour, no bridge network), log in $log"
            PATH=$prefix/usr/sbin:$prefix/usr/bin:$PATH nohup dockerd "${flags[@]}" \
                --config-file "$config" -H "unix://$socket" \
                --data-root "$DATA_DIR/$flavour" --exec-root "$RUN_DIR/$flavour-exec" \
                --pidfile "$pidfile" >>"$log" 2>&1 &
            ;;
    esac
    for _ in $(seq "$WAIT_SECONDS"); do
        if answers; then
            say "ready: $flavour, $(describe), at unix://$socket"
            return
        fi
        sleep 1
    done
    say "$flavour did not answer within ${WAIT_SECONDS}s; the end of $log:"
    tail -n 20 "$log" >&2 || true
    exit 1
}

stop_engine() {
    local pid_path=$pidfile
    [ "$flavour" = docker-20.10 ] && pid_path=/var/run/docker.pid
    if [ -f "$pid_path" ] && kill -0 "$(cat "$pid_path")" 2>/dev/null; then
        local pid
        pid=$(cat "$pid_path")
        kill "$pid"
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        say "stopped $flavour"
    else
        say "$flavour is not running"
    fi
}

case "$command" in
    start) if [ "$flavour" = docker-26-rootless ]; then rootless_start; else start_engine; fi ;;
    install)
        case "$flavour" in
            docker-26-rootless) rootless_lock; rootless_install; rootless_unlock ;;
            docker-20.10) install_debian12 ;;
            *) install_debian13 ;;
        esac ;;
    stop) if [ "$flavour" = docker-26-rootless ]; then rootless_stop; else stop_engine; fi ;;
    status)
        if answers; then say "$flavour answers: $(describe)"; else say "$flavour does not answer"; exit 1; fi ;;
    env)
        printf 'export DOCKER_HOST=unix://%s\n' "$socket"
        if [ -n "$config_dir" ]; then printf 'export DOCKER_CONFIG=%s\n' "$config_dir"; else printf 'unset DOCKER_CONFIG\n'; fi
        printf 'export LAYERLAB_EXPECT_FLAVOUR=%s\n' "$flavour"
        ;;
    *) say "usage: $0 start|status|stop|env|install [docker-20.10|docker-26|docker-26-containerd|docker-26-rootless [USER]]"; exit 2 ;;
esac
