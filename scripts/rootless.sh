# The docker-26-rootless flavour of scripts/engine.sh (sourced by it, not run on its own).
#
# One rootless dockerd 26.1 per learner, run by that learner's own unprivileged user:
#   user             a named non-root user, created if missing (home 0700, subordinate ids)
#   runtime dir      /run/layerlab/rootless/USER (0700, the user's): socket docker.sock,
#                    pidfile docker.pid, rootlesskit's state dockerd-rootless/, exec root exec/
#   data root        ~USER/.local/share/layerlab-docker (overlay2 without native diff)
#   CLI config       ~USER/.docker, with the buildx plugin linked in, owned by the user
#   log              /var/log/layerlab/docker-26-rootless-USER.log
#
# Network: the engine runs in rootlesskit's network namespace. slirp4netns gives it a tap
# device, but runs with --disable-dns and --outbound-addr=127.0.0.1, and the engine's own
# wrapper (rootless/dockerd) flushes the namespace's routes, turns IPv6 off on the tap device
# and empties its resolv.conf before dockerd starts: the engine has a loopback and nothing else. It cannot resolve a name or
# reach any address beyond it, so a pull fails at once instead of asking the internet.
# Containers get --bridge=none, as with every flavour.
#
# Device nodes: slirp4netns opens /dev/net/tun as the user. Where the user cannot open it
# (Debian ships it 0600 root), `start` grants that one user read-write with a POSIX ACL entry
# (setfacl -m u:USER:rw), never a world-writable mode. The named ACL entries are the
# reference count: each running rootless engine holds one, `stop` removes its own, and when
# no named entry is left `stop` removes the ACL (setfacl -b), which restores the node's
# original mode. A marker file in the runtime dir records that this script made the grant,
# so a grant an administrator made is never taken away.
#
# Start and stop need root (they create the user and manage the device node); `env` and
# `status` also work as the learner, for the learner's own engine.

ROOTLESS_DIR=$ENGINES/rootless
ROOTLESS_TUN=/dev/net/tun

rootless_user_default() {
    if [ "$(id -u)" = 0 ]; then
        printf '%s\n' "${LAYERLAB_ROOTLESS_USER:-layerlab-learner}"
    else
        id -un
    fi
}

rootless_setup_vars() {  # rootless_setup_vars USER: the paths of that user's engine
    rootless_user=$1
    case "$rootless_user" in
        root) say "a rootless engine needs a non-root user, not root"; exit 2 ;;
        *[!a-z0-9_-]*|[!a-z_]*|"") say "'$rootless_user' is not a user name this script accepts (a-z, 0-9, _ and -)"; exit 2 ;;
    esac
    rootless_run=$RUN_DIR/rootless/$rootless_user
    socket=$rootless_run/docker.sock
    pidfile=$rootless_run/docker.pid
    prefix=$ENGINES/docker-26
    log=$LOG_DIR/docker-26-rootless-$rootless_user.log
    rootless_home=$(getent passwd "$rootless_user" | cut -d: -f6 || true)
    [ -n "$rootless_home" ] || rootless_home=/home/$rootless_user
    config_dir=$rootless_home/.docker
    rootless_data=$rootless_home/.local/share/layerlab-docker
}

as_learner() { runuser -u "$rootless_user" -- "$@"; }

rootless_install() {
    need_root
    install_debian13
    local missing=()
    command -v rootlesskit >/dev/null 2>&1 || missing+=(rootlesskit)
    command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
    command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
    command -v setfacl >/dev/null 2>&1 || missing+=(acl)
    command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    mkdir -p "$ROOTLESS_DIR"
    # Root-owned wrappers: the learner can run them and cannot change them.
    cat >"$ROOTLESS_DIR/slirp4netns.tmp" <<'EOF'
#!/bin/sh
# layerlab: slirp4netns with no DNS forwarder, its outbound traffic bound to loopback.
exec /usr/bin/slirp4netns --disable-dns --outbound-addr=127.0.0.1 "$@"
EOF
    cat >"$ROOTLESS_DIR/dockerd.tmp" <<EOF
#!/bin/sh
# layerlab: runs inside rootlesskit's namespaces. No route and no resolver, then dockerd.
ip route flush table main 2>/dev/null || true
ip -6 route flush table main 2>/dev/null || true
for conf in /proc/sys/net/ipv6/conf/*/disable_ipv6; do  # no IPv6 beyond loopback either
    case "\$conf" in */lo/*|*/all/*|*/default/*) ;; *) echo 1 >"\$conf" 2>/dev/null || true ;; esac
done
rm -f /etc/resolv.conf && : >/etc/resolv.conf
exec $prefix/usr/sbin/dockerd "\$@"
EOF
    chmod 0755 "$ROOTLESS_DIR/slirp4netns.tmp" "$ROOTLESS_DIR/dockerd.tmp"
    mv "$ROOTLESS_DIR/slirp4netns.tmp" "$ROOTLESS_DIR/slirp4netns"
    mv "$ROOTLESS_DIR/dockerd.tmp" "$ROOTLESS_DIR/dockerd"
}

rootless_ensure_user() {
    if ! id -u "$rootless_user" >/dev/null 2>&1; then
        say "creating the user $rootless_user"
        useradd --create-home --shell /bin/bash "$rootless_user"
    fi
    rootless_home=$(getent passwd "$rootless_user" | cut -d: -f6)
    config_dir=$rootless_home/.docker
    rootless_data=$rootless_home/.local/share/layerlab-docker
    chmod 0700 "$rootless_home"
    local file
    for file in /etc/subuid /etc/subgid; do
        if ! grep -q "^$rootless_user:" "$file" 2>/dev/null; then
            local start
            start=$(awk -F: 'BEGIN {top = 100000} {end = $2 + $3; if (end > top) top = end} END {print top}' "$file" 2>/dev/null || echo 100000)
            printf '%s:%s:65536\n' "$rootless_user" "$start" >>"$file"
            say "gave $rootless_user subordinate ids $start-$((start + 65535)) in $file"
        fi
    done
    as_learner mkdir -p "$config_dir/cli-plugins" "$rootless_data"
    as_learner ln -sfn "$prefix/usr/libexec/docker/cli-plugins/docker-buildx" "$config_dir/cli-plugins/docker-buildx"
    install -d -m 0755 "$RUN_DIR" "$RUN_DIR/rootless"
    install -d -m 0700 -o "$rootless_user" -g "$(id -gn "$rootless_user")" "$rootless_run"
}

rootless_grant_tun() {
    if as_learner test -r "$ROOTLESS_TUN" -a -w "$ROOTLESS_TUN"; then
        return
    fi
    setfacl -m "u:$rootless_user:rw" "$ROOTLESS_TUN"
    : >"$rootless_run/granted-tun"
    say "granted $rootless_user read-write on $ROOTLESS_TUN (ACL entry; removed when its engine stops)"
}

rootless_release_tun() {
    [ -f "$rootless_run/granted-tun" ] || return 0
    setfacl -x "u:$rootless_user" "$ROOTLESS_TUN" 2>/dev/null || true
    rm -f "$rootless_run/granted-tun"
    if ! getfacl --omit-header --absolute-names "$ROOTLESS_TUN" 2>/dev/null | grep -q '^user:[^:]'; then
        setfacl -b "$ROOTLESS_TUN"
        say "no rootless engine holds $ROOTLESS_TUN any more: its ACL removed, mode $(stat -c %a "$ROOTLESS_TUN")"
    fi
}

# Several learners' engines may start and stop at once (a class's hub spawns them in parallel):
# the shared steps (writing the wrappers, adding subordinate ids, the ACL on the tun device)
# run under one lock, held on fd 9 until rootless_unlock.
rootless_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/rootless.lock"
    flock -w 120 9 || { say "could not take $RUN_DIR/rootless.lock within 120 s"; exit 1; }
}

rootless_unlock() { flock -u 9 2>/dev/null || true; exec 9>&-; }

rootless_start() {
    if answers; then
        say "$flavour for $rootless_user already answers: $(describe)"
        return
    fi
    need_root
    rootless_lock
    rootless_install
    rootless_ensure_user
    rootless_grant_tun
    rootless_unlock
    mkdir -p "$LOG_DIR"
    rm -f "$socket"
    say "starting rootless dockerd 26.1 for $rootless_user (its own network namespace, no bridge), log in $log"
    local E=$prefix
    # runuser itself is the background job (not a subshell around it): its pid is the launcher.
    runuser -u "$rootless_user" -- env -i HOME="$rootless_home" USER="$rootless_user" LOGNAME="$rootless_user" \
        XDG_RUNTIME_DIR="$rootless_run" \
        PATH="$E/usr/sbin:$E/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        DOCKERD="$ROOTLESS_DIR/dockerd" \
        DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="--slirp4netns-binary=$ROOTLESS_DIR/slirp4netns" \
        DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=builtin \
        setsid nohup "$E/usr/share/docker.io/contrib/dockerd-rootless.sh" \
        -H "unix://$socket" --data-root "$rootless_data" --exec-root "$rootless_run/exec" \
        --pidfile "$pidfile" --bridge=none --iptables=false --ip-forward=false \
        </dev/null >>"$log" 2>&1 &
    echo $! >"$rootless_run/launcher.pid"
    for _ in $(seq "$WAIT_SECONDS"); do
        if answers; then
            say "ready: $flavour for $rootless_user, $(describe), at unix://$socket"
            return
        fi
        kill -0 "$(cat "$rootless_run/launcher.pid")" 2>/dev/null || break
        sleep 1
    done
    say "$flavour for $rootless_user did not answer; the end of $log:"
    tail -n 20 "$log" >&2 || true
    rootless_stop >/dev/null 2>&1 || true
    exit 1
}

# Every process of this engine: the launcher's descendants, and whatever names the runtime
# dir on its command line (containerd and its shims, which leave the tree when they daemonize).
rootless_processes() {
    local uid
    uid=$(id -u "$rootless_user" 2>/dev/null) || return 0
    ps -o pid=,ppid=,uid=,args= -e | awk -v uid="$uid" -v run="$rootless_run/" -v root="$(cat "$rootless_run/launcher.pid" 2>/dev/null || echo -1)" '
        { pid[NR] = $1; ppid[NR] = $2; owner[NR] = $3; line[NR] = $0 }
        END {
            for (i = 1; i <= NR; i++) if (pid[i] == root && index(line[i], run) > 0) keep[root] = 1
            for (changed = 1; changed; ) {
                changed = 0
                for (i = 1; i <= NR; i++) if (!(pid[i] in keep) && (ppid[i] in keep)) { keep[pid[i]] = 1; changed = 1 }
            }
            for (i = 1; i <= NR; i++)
                if ((pid[i] in keep) || (owner[i] == uid && index(line[i], run) > 0)) print pid[i]
        }'
}

rootless_stop() {
    need_root
    local pids pid
    pids=$(rootless_processes | tr '\n' ' ')
    if [ -z "${pids// /}" ]; then
        say "$flavour for $rootless_user is not running"
        rootless_lock
        rootless_release_tun
        rootless_unlock
        return
    fi
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill -TERM "$(cat "$pidfile")"  # dockerd stops its containers, then rootlesskit ends
    else
        for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    fi
    local left=""
    for _ in $(seq 40); do
        left=""
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
        [ -z "$left" ] && break
        sleep 0.5
    done
    if [ -n "$left" ]; then
        say "killing what did not stop within 20 s:$left"
        for pid in $left; do kill -KILL "$pid" 2>/dev/null || true; done
    fi
    rm -f "$rootless_run/launcher.pid" "$socket"
    rootless_lock
    rootless_release_tun
    rootless_unlock
    left=$(rootless_processes | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        say "processes of $flavour for $rootless_user are still running: $left"
        exit 1
    fi
    say "stopped $flavour for $rootless_user; none of its processes is left"
}
