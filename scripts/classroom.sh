#!/usr/bin/env bash
# A class on ONE machine, as root: a JupyterHub on 127.0.0.1 where every learner's server has
# its own rootless Docker engine (deploy/classroom/jupyterhub_config.py).
#
#   bash scripts/classroom.sh install        CHP (npm), the course in a shared venv, rootless prerequisites
#   bash scripts/classroom.sh up [N]         N learners (default 2) and one instructor, then the hub
#   bash scripts/classroom.sh status         the hub, the proxy, each learner's server and engine
#   bash scripts/classroom.sh down [--purge] stop everything; --purge also removes users and state
#
# Names (LAYERLAB_CLASS_USER_PREFIX, default llclass-): learners PREFIX1..PREFIXN, instructor
# PREFIXteacher (the hub's admin). Homes are 0700, each with its own copy of notebooks/.
# Files:
#   /opt/layerlab-classroom/{course,venv,proxy}   the course tree, its venv (root-owned,
#                                                 world-readable) and configurable-http-proxy
#   /var/lib/layerlab-classroom (0700)            hub state: database, cookie secret, the
#                                                 shared password and the operator's API token
#                                                 (both 0600), class.env (ports, names), hub.log
# Environment: LAYERLAB_CLASS_STATE, LAYERLAB_CLASS_USER_PREFIX, LAYERLAB_BASES_FILE (default
# /srv/bases.tar if it exists, else /var/lib/layerlab/bases.tar, written by `up` with
# `python -m layerlab prepare --export` when missing), LAYERLAB_CLASS_IDLE_TIMEOUT
# (seconds, default 1800), LAYERLAB_CLASSROOM_SERVICE=off (no instructor page).
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=$PWD
PREFIX_DIR=${LAYERLAB_CLASS_PREFIX_DIR:-/opt/layerlab-classroom}
STATE=${LAYERLAB_CLASS_STATE:-/var/lib/layerlab-classroom}
USER_PREFIX=${LAYERLAB_CLASS_USER_PREFIX:-llclass-}
# The class's bases file: readable by every learner (not under the 0700 state dir).
if [ -n "${LAYERLAB_BASES_FILE:-}" ]; then BASES=$LAYERLAB_BASES_FILE
elif [ -f /srv/bases.tar ]; then BASES=/srv/bases.tar
else BASES=/var/lib/layerlab/bases.tar
fi
COURSE=$PREFIX_DIR/course
VENV=$PREFIX_DIR/venv
CHP=$PREFIX_DIR/proxy/node_modules/.bin/configurable-http-proxy
ENGINE_BIN=/opt/layerlab-engines/docker-26/usr/bin
INSTRUCTOR=${USER_PREFIX}teacher
HUB_WAIT=${LAYERLAB_CLASS_HUB_WAIT:-60}
export DEBIAN_FRONTEND=noninteractive

say() { printf 'classroom: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it creates users and starts their engines)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The class's users, from class.env (what `up` made), or from the accounts that carry the prefix.
class_learners() {
    if [ -f "$STATE/class.env" ]; then
        # shellcheck disable=SC1091
        (source "$STATE/class.env" && printf '%s\n' "${LAYERLAB_CLASS_LEARNERS//,/ }")
    else
        getent passwd | cut -d: -f1 | grep -E "^${USER_PREFIX}[0-9]+$" || true
    fi
}

# ---- install ---------------------------------------------------------------------------------
install_proxy() {
    if [ -x "$CHP" ] && "$CHP" --version 2>/dev/null | grep -q '^5\.3\.0'; then return; fi
    command -v npm >/dev/null || die "npm is needed for configurable-http-proxy (apt-get install npm)"
    say "installing configurable-http-proxy 5.3.0 under $PREFIX_DIR/proxy"
    mkdir -p "$PREFIX_DIR/proxy"
    npm install --no-audit --no-fund --prefix "$PREFIX_DIR/proxy" configurable-http-proxy@5.3.0 >/dev/null
}

install_course() {
    say "copying the course to $COURSE"
    rm -rf "$COURSE.partial"
    mkdir -p "$COURSE.partial"
    tar --exclude=./.venv --exclude=./.git --exclude='*/__pycache__' --exclude=./widgets/layerlab.egg-info \
        --exclude=./artifacts --exclude=./build -cf - . | tar -xf - -C "$COURSE.partial"
    rm -rf "$COURSE" && mv "$COURSE.partial" "$COURSE"
    # The same dependencies as the last install: keep the venv, reinstall only the course.
    local stamp=$VENV/.layerlab-pyproject
    if [ -x "$VENV/bin/python" ] && cmp -s "$COURSE/pyproject.toml" "$stamp"; then
        say "reinstalling the course into $VENV (dependencies unchanged)"
        "$VENV/bin/python" -m pip install -q --no-deps --force-reinstall "$COURSE" 2> >(grep -v "^WARNING: Location" >&2)
    else
        say "installing the course and the hub into $VENV (a few minutes the first time)"
        [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
        "$VENV/bin/python" -m pip install -q "$COURSE[test]" ipykernel 2> >(grep -v "^WARNING: Location" >&2)
        cp "$COURSE/pyproject.toml" "$stamp"
    fi
    rm -rf "$COURSE/build" "$COURSE/widgets/layerlab.egg-info"
    chown -R root:root "$PREFIX_DIR"
    chmod -R a+rX,go-w "$PREFIX_DIR"
}

cmd_install() {
    install_proxy
    # Rootless prerequisites (docker 26, rootlesskit, slirp4netns, uidmap, acl, the wrappers).
    bash "$TREE/scripts/engine.sh" install docker-26-rootless
    install_course
    say "installed: $COURSE, $VENV, $CHP"
}

# ---- up ----------------------------------------------------------------------------------------
make_user() {  # make_user NAME: a 0700 home, subordinate ids (useradd adds them)
    local name=$1
    id -u "$name" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$name"
    chmod 0700 "$(getent passwd "$name" | cut -d: -f6)"
}

as_user() {  # as_user NAME COMMAND...: the learner's own environment, pointed at their engine
    local name=$1 home
    shift
    home=$(getent passwd "$name" | cut -d: -f6)
    runuser -u "$name" -- env -i HOME="$home" USER="$name" LOGNAME="$name" LANG=C.UTF-8 \
        PATH="$VENV/bin:$ENGINE_BIN:/usr/bin:/bin" \
        DOCKER_HOST="unix:///run/layerlab/rootless/$name/docker.sock" DOCKER_CONFIG="$home/.docker" \
        LAYERLAB_LEARNER="$name" LAYERLAB_REGISTRY=off LAYERLAB_PROGRESS=off \
        bash -c 'cd && "$@"' "$name" "$@"
}

setup_learner() {  # setup_learner NAME: notebooks, then the bases loaded into their engine once
    local name=$1 home
    make_user "$name"
    home=$(getent passwd "$name" | cut -d: -f6)
    if [ ! -d "$home/notebooks" ]; then
        cp -r "$COURSE/notebooks" "$home/notebooks"
        chown -R "$name:$(id -gn "$name")" "$home/notebooks"
    fi
    if [ -f "$home/.layerlab-bases-loaded" ] && cmp -s "$home/.layerlab-bases-loaded" <(stat -c '%s %Y' "$BASES"); then
        say "$name: bases already loaded from $BASES"
        return
    fi
    local t0=$SECONDS
    bash "$COURSE/scripts/engine.sh" start docker-26-rootless "$name" | sed "s/^/classroom: $name: /"
    if as_user "$name" env LAYERLAB_BASES="$BASES" python -m layerlab prepare >"$STATE/prepare-$name.log" 2>&1; then
        stat -c '%s %Y' "$BASES" >"$home/.layerlab-bases-loaded"
        say "$name: bases loaded in $((SECONDS - t0)) s"
    else
        tail -n 20 "$STATE/prepare-$name.log" >&2
        bash "$COURSE/scripts/engine.sh" stop docker-26-rootless "$name" >/dev/null || true
        die "$name: loading the bases failed; see $STATE/prepare-$name.log"
    fi
    bash "$COURSE/scripts/engine.sh" stop docker-26-rootless "$name" | sed "s/^/classroom: $name: /"
}

hub_pid() { [ -f "$STATE/hub.pid" ] && kill -0 "$(cat "$STATE/hub.pid")" 2>/dev/null && cat "$STATE/hub.pid"; }

cmd_up() {
    local count=${1:-2}
    [[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] || die "up N: N is a number of learners (1 or more)"
    [ -x "$VENV/bin/jupyterhub" ] && [ -x "$CHP" ] || die "not installed: bash scripts/classroom.sh install"
    if [ ! -r "$BASES" ]; then
        say "writing the class's bases file $BASES once (prepare --export, as root; no engine needed)"
        mkdir -p "$(dirname "$BASES")"
        "$VENV/bin/python" -m layerlab prepare --export "$BASES" | tail -n 3
        chmod 0644 "$BASES"
    fi
    if hub_pid >/dev/null; then die "a class is already up (hub pid $(hub_pid)); bash scripts/classroom.sh down first"; fi
    install -d -m 0700 "$STATE"
    local learners=() i
    for i in $(seq "$count"); do learners+=("$USER_PREFIX$i"); done
    make_user "$INSTRUCTOR"
    local t0=$SECONDS
    for name in "${learners[@]}"; do setup_learner "$name"; done
    say "learners ready in $((SECONDS - t0)) s"

    umask 077
    [ -s "$STATE/password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(12))' >"$STATE/password"
    [ -s "$STATE/api-token" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' >"$STATE/api-token"
    chmod 0600 "$STATE/password" "$STATE/api-token"
    local port hub_port api_port
    port=${LAYERLAB_CLASS_PORT:-$(free_port)}
    hub_port=$(free_port)
    api_port=$(free_port)
    cat >"$STATE/class.env" <<EOF
LAYERLAB_CLASS_STATE=$STATE
LAYERLAB_CLASS_PREFIX_DIR=$PREFIX_DIR
LAYERLAB_CLASS_PORT=$port
LAYERLAB_CLASS_HUB_PORT=$hub_port
LAYERLAB_CLASS_PROXY_API_PORT=$api_port
LAYERLAB_CLASS_LEARNERS=$(IFS=,; echo "${learners[*]}")
LAYERLAB_CLASS_INSTRUCTOR=$INSTRUCTOR
LAYERLAB_CLASS_IDLE_TIMEOUT=${LAYERLAB_CLASS_IDLE_TIMEOUT:-1800}
LAYERLAB_CLASSROOM_SERVICE=${LAYERLAB_CLASSROOM_SERVICE:-on}
LAYERLAB_CLASSROOM_DB=${LAYERLAB_CLASSROOM_DB:-}
EOF
    umask 022
    say "starting the hub on http://127.0.0.1:$port/ (log $STATE/hub.log)"
    t0=$SECONDS
    (
        cd "$STATE"
        set -a
        # shellcheck disable=SC1091
        source "$STATE/class.env"
        set +a
        exec env -u DOCKER_HOST -u DOCKER_CONFIG PATH="$VENV/bin:$(dirname "$(command -v node)"):/usr/sbin:/usr/bin:/sbin:/bin" \
            setsid "$VENV/bin/jupyterhub" -f "$COURSE/deploy/classroom/jupyterhub_config.py" </dev/null >>"$STATE/hub.log" 2>&1
    ) &
    local launcher=$! deadline=$((SECONDS + HUB_WAIT)) answered=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        if curl -sf -m 2 -o /dev/null "http://127.0.0.1:$port/hub/api/"; then answered=1; break; fi
        kill -0 "$launcher" 2>/dev/null || { tail -n 30 "$STATE/hub.log" >&2; die "the hub exited; see $STATE/hub.log"; }
        sleep 0.25
    done
    [ -n "$answered" ] || { tail -n 30 "$STATE/hub.log" >&2; die "the hub did not answer on 127.0.0.1:$port within ${HUB_WAIT}s"; }
    hub_pid >/dev/null || { tail -n 30 "$STATE/hub.log" >&2; die "the hub did not come up within ${HUB_WAIT}s"; }
    say "hub up in $((SECONDS - t0)) s (pid $(hub_pid))"
    cat <<EOF

  The class is up: http://127.0.0.1:$port/
  Learners: ${learners[*]}   instructor (admin): $INSTRUCTOR
  Password (the same for everyone, DummyAuthenticator): in $STATE/password (0600)
  The instructor's page: http://127.0.0.1:$port/services/layerlab-classroom/ (admins only)
  Stop it: make classroom-down  (or bash scripts/classroom.sh down)

  This is a rehearsal set-up on loopback only. A real class needs a real authenticator
  (NativeAuthenticator, OAuthenticator or PAMAuthenticator, see deploy/classroom/jupyterhub_config.py)
  and TLS in front of the proxy.
EOF
}

# ---- status, down --------------------------------------------------------------------------------
cmd_status() {
    local pid
    if pid=$(hub_pid); then say "hub: up (pid $pid)"; else say "hub: down"; fi
    if [ -f "$STATE/proxy.pid" ] && kill -0 "$(cat "$STATE/proxy.pid")" 2>/dev/null; then
        say "proxy: up (pid $(cat "$STATE/proxy.pid"))"
    else
        say "proxy: down"
    fi
    [ -f "$STATE/class.env" ] && grep -E '^LAYERLAB_CLASS_(PORT|LEARNERS|INSTRUCTOR)=' "$STATE/class.env" | sed 's/^/classroom: /'
    local name uid
    for name in $(class_learners); do
        uid=$(id -u "$name" 2>/dev/null) || continue
        local server="down"
        pgrep -u "$uid" -f jupyterhub-singleuser >/dev/null 2>&1 && server="up"
        say "$name: server $server; $(bash "$COURSE/scripts/engine.sh" status docker-26-rootless "$name" 2>&1 | sed 's/^engine.sh: //' || true)"
    done
}

# Every process of the class that is still running: the hub, the proxy, and anything of a
# class user (their servers, kernels, engines).
class_leftovers() {
    local name uid
    for f in "$STATE/hub.pid" "$STATE/proxy.pid"; do
        [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
    done
    for name in $(class_learners) "$INSTRUCTOR"; do
        uid=$(id -u "$name" 2>/dev/null) || continue
        pgrep -u "$uid" || true
    done
}

stop_pid() {  # stop_pid PID SECONDS: TERM, wait, then KILL
    local pid=$1 wait=$2
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq "$((wait * 4))"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
    say "pid $pid did not stop within ${wait}s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
    local purge=${1:-}
    local pid name
    if pid=$(hub_pid); then
        say "stopping the hub (pid $pid): it stops every learner's server, their engines and the proxy"
        # Its services first: the instructor service once took about 60 s to stop after a
        # 4-learner run, so give the hub the time for its own orderly stop before killing it.
        stop_pid "$pid" "${LAYERLAB_CLASS_STOP_WAIT:-120}"
    fi
    if [ -f "$STATE/proxy.pid" ] && kill -0 "$(cat "$STATE/proxy.pid")" 2>/dev/null; then
        stop_pid "$(cat "$STATE/proxy.pid")" 10
    fi
    # Whatever the hub did not stop (it was killed, or a server outlived it): servers, then engines.
    for name in $(class_learners) "$INSTRUCTOR"; do
        id -u "$name" >/dev/null 2>&1 || continue
        for pid in $(pgrep -u "$(id -u "$name")" -f 'jupyterhub-singleuser|ipykernel_launcher' || true); do stop_pid "$pid" 10; done
        if [ -d "/run/layerlab/rootless/$name" ]; then
            bash "$COURSE/scripts/engine.sh" stop docker-26-rootless "$name" | sed "s/^/classroom: $name: /" || true
        fi
    done
    rm -f "$STATE/hub.pid" "$STATE/proxy.pid"
    local left
    left=$(class_leftovers | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        say "processes of the class are still running: $left"
        ps -o pid,user,args -p "${left// /,}" 2>/dev/null | sed 's/^/classroom:   /' || true
        exit 1
    fi
    say "the class is stopped; none of its processes is left"
    if [ "$purge" = --purge ]; then
        for name in $(class_learners) "$INSTRUCTOR"; do
            id -u "$name" >/dev/null 2>&1 || continue
            rm -rf "/run/layerlab/rootless/$name" "/var/log/layerlab/docker-26-rootless-$name.log"
            userdel --remove "$name" 2>/dev/null || userdel "$name"
            say "removed the user $name and their home"
        done
        rm -rf "$STATE"
        say "removed $STATE"
    fi
}

case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up "${2:-2}" ;;
    status) cmd_status ;;
    down) cmd_down "${2:-}" ;;
    *) say "usage: $0 install | up [N] | status | down [--purge]"; exit 2 ;;
esac
