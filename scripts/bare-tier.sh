#!/usr/bin/env bash
# The bare tier: prove the README's two commands (`make test`, `make lab`) on a fresh machine
# that has none of the system packages: no engine, no docker CLI, no graphviz, no busybox, no
# chromium. Run as root, with DOCKER_HOST naming the engine that hosts the "fresh machine":
#
#   eval "$(bash scripts/engine.sh env docker-26)" && bash scripts/bare-tier.sh
#
# 1. rootfs     Debian 12 minbase with only python3, python3-venv, python3-pip, make, git and
#               ca-certificates (debootstrap, mirror taken from this machine's apt sources),
#               cached as $CACHE/bare-rootfs.tar, rebuilt when the package list changes.
# 2. image      imported into the engine as layerlab-ci-bare/rootfs:<key>, labelled
#               layerlab.course/lesson=ci-bare/learner=ci-bare. Kept as a cache (older keys removed).
# 3. wheelhouse resolved by Debian's /usr/bin/python3 (the container's Python): pip,
#               setuptools>=77, wheel and the course's dependencies with its test extra; cached
#               under $CACHE/bare-wheelhouse/<hash of pyproject.toml>.
# 4. container  --network none, --pull never, not privileged, no mounts: the working tree's
#               tracked files and the wheelhouse are copied in (tar -> docker cp).
# 5. install    `make install` with PIP_NO_INDEX=1 PIP_FIND_LINKS=/wh, CI unset.
# 6. make test  with tests/outcomes_plugin.py writing every outcome; scripts/bare_check.py then
#               asserts that exactly the engine/browser tests skipped, all else passed, and every
#               notebook cell passed under nbval in replay.
# 7. make lab   in the background; waits for HTTP on 127.0.0.1:$PORT inside the container, checks
#               the contents API lists 00-setup.ipynb and that `make lab` said it runs from
#               recordings; then stops it.
# The container is force-removed at the end, on failure and on interrupt. Every step and the
# whole tier have timeouts; durations are printed. Logs go to artifacts/bare-tier/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TIER_TIMEOUT=${LAYERLAB_BARE_TIMEOUT:-1800}
CACHE=${LAYERLAB_BARE_CACHE:-/var/cache/layerlab}
LOGS=${LAYERLAB_BARE_LOGS:-$ROOT/artifacts/bare-tier}
LAB_PORT=${LAYERLAB_BARE_LAB_PORT:-8888}
PACKAGES=python3,python3-venv,python3-pip,make,git,ca-certificates
HOST_PYTHON=/usr/bin/python3  # Debian 12's python3 (3.11.2), the same as the container's
SUITE=bookworm
LABELS=(layerlab.course=layerlab layerlab.lesson=ci-bare layerlab.learner=ci-bare)
IMAGE_REPO=layerlab-ci-bare/rootfs
RUN_ID=$(date +%Y%m%d%H%M%S)-$$
CONTAINER=layerlab-ci-bare-$RUN_ID
export DEBIAN_FRONTEND=noninteractive

say() { printf 'bare-tier: %s\n' "$*"; }
die() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and the cache under $CACHE need it)"
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set: eval \"\$(bash scripts/engine.sh env docker-26)\" first"
command -v docker >/dev/null || die "no docker CLI on this (host) machine"
mkdir -p "$CACHE" "$LOGS"

# ---- bookkeeping: step timing, the whole-tier watchdog, cleanup on every exit -------------
tier_started=$SECONDS
declare -a timings=()
work=$(mktemp -d /tmp/layerlab-bare.XXXXXX)
watchdog=""
container_made=0

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null || true
    if [ -n "$current" ] && kill -0 "$current" 2>/dev/null; then
        timings+=("$(printf '%-28s %4d s  INTERRUPTED' "$current_name" $((SECONDS - current_started)))")
        kill -TERM "$current" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$current" 2>/dev/null || break; sleep 0.5; done
    fi
    if [ "$container_made" = 1 ]; then
        timeout 60 docker rm -f "$CONTAINER" >/dev/null 2>&1 && say "removed container $CONTAINER" \
            || say "could not remove container $CONTAINER (remove it by hand: docker rm -f $CONTAINER)"
    fi
    rm -rf "$work"
    say "step durations:"
    for line in "${timings[@]}"; do printf '    %s\n' "$line"; done
    say "tier $([ "$status" = 0 ] && echo passed || echo "FAILED (status $status)") in $((SECONDS - tier_started)) s"
    exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated (tier timeout of ${TIER_TIMEOUT}s, or a signal)"; exit 143' TERM
bash -c 'sleep "$1" & s=$!; trap "kill \$s; exit 0" TERM; wait $s && kill -TERM "$2"' _ "$TIER_TIMEOUT" $$ >/dev/null 2>&1 &
watchdog=$!
current="" current_name="" current_started=0  # the running step (its timeout process), stopped on interrupt

# step NAME SECONDS FUNCTION: run FUNCTION in the background under its own timeout (so that a
# signal to this script is handled at once), record its duration, fail the tier if it fails.
step() {
    local name=$1 seconds=$2 fn=$3 status=0
    say "== $name (timeout ${seconds}s)"
    run_bounded "$name" "$seconds" "$fn" || status=$?
    [ "$status" = 0 ] || die "$name failed (status $status)"
}

# run_bounded NAME SECONDS FUNCTION: the same, returning the status instead of failing the tier.
run_bounded() {
    local name=$1 seconds=$2 fn=$3 started=$SECONDS status=0
    timeout -k 15 "$seconds" bash -c "set -euo pipefail; $fn" &
    current=$! current_name=$name current_started=$started
    wait "$current" || status=$?
    current=""
    timings+=("$(printf '%-28s %4d s%s' "$name" $((SECONDS - started)) "$([ $status = 0 ] || echo "  FAILED ($status)")")")
    [ "$status" != 124 ] || say "$name did not end within ${seconds}s"
    return "$status"
}

# `docker exec` in the fresh machine, CI unset, pip pointed at the wheelhouse only.
in_box() {
    docker exec -i -w /src -e HOME=/root -e LANG=C.UTF-8 -e PIP_NO_INDEX=1 -e PIP_FIND_LINKS=/wh \
        -e PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"
}

export ROOT CACHE LOGS LAB_PORT PACKAGES HOST_PYTHON SUITE IMAGE_REPO CONTAINER work
export -f say in_box

# ---- 1. the root filesystem ---------------------------------------------------------------
rootfs_key=$(printf '%s %s minbase v1\n' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)
export rootfs_key

# The mirror this machine's apt already uses (as scripts/engine.sh does; no host name here).
debian_mirror() {
    local uri=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        uri=$(awk 'tolower($1)=="uris:" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(http|https|file|mirror)/) {print $i; exit}}' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || { say "no Debian mirror found in the apt sources"; return 1; }
    printf '%s\n' "$uri"
}

build_rootfs() {
    if [ -f "$CACHE/bare-rootfs.tar" ] && [ "$(cat "$CACHE/bare-rootfs.key" 2>/dev/null)" = "$rootfs_key" ]; then
        say "cached: $CACHE/bare-rootfs.tar ($(du -h "$CACHE/bare-rootfs.tar" | cut -f1), key $rootfs_key)"
        return
    fi
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    local dir=$work/rootfs mirror
    mirror=$(debian_mirror)
    say "debootstrap --variant=minbase --include=$PACKAGES $SUITE (mirror from the apt sources)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$mirror" >"$LOGS/debootstrap.log" 2>&1 \
        || { tail -n 20 "$LOGS/debootstrap.log"; return 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
    # A fresh machine, for real: none of what the course's other tiers install.
    local found=""
    for program in docker dockerd dot busybox chromium chromium-browser; do
        for bindir in bin sbin usr/bin usr/sbin usr/local/bin; do
            [ -e "$dir/$bindir/$program" ] && found="$found $bindir/$program"
        done
    done
    [ -z "$found" ] || { say "the rootfs unexpectedly has:$found"; return 1; }
    tar -C "$dir" --numeric-owner -cf "$CACHE/bare-rootfs.tar.partial" .
    mv "$CACHE/bare-rootfs.tar.partial" "$CACHE/bare-rootfs.tar"
    printf '%s\n' "$rootfs_key" >"$CACHE/bare-rootfs.key"
    rm -rf "$dir"
    say "built $CACHE/bare-rootfs.tar ($(du -h "$CACHE/bare-rootfs.tar" | cut -f1))"
}
export -f debian_mirror build_rootfs
step "rootfs" 900 build_rootfs

# ---- 2. the image -------------------------------------------------------------------------
IMAGE=$IMAGE_REPO:$rootfs_key
export IMAGE
import_image() {
    local filters=(--filter label=layerlab.course=layerlab --filter label=layerlab.lesson=ci-bare
                   --filter label=layerlab.learner=ci-bare --filter "reference=$IMAGE_REPO")
    if docker image inspect "$IMAGE" --format '{{index .Config.Labels "layerlab.learner"}}' 2>/dev/null | grep -qx ci-bare; then
        say "cached: image $IMAGE"
    else
        docker import -c 'LABEL layerlab.course=layerlab' -c 'LABEL layerlab.lesson=ci-bare' \
            -c 'LABEL layerlab.learner=ci-bare' -c 'CMD ["/bin/bash"]' \
            -m "layerlab bare tier: Debian $SUITE minbase + $PACKAGES" \
            "$CACHE/bare-rootfs.tar" "$IMAGE" >/dev/null
        say "imported $IMAGE"
    fi
    # Older keys of this tier's own image (found by its labels and name), no longer needed.
    docker image ls "${filters[@]}" --format '{{.Repository}}:{{.Tag}}' | { grep -vx "$IMAGE" || true; } \
        | while read -r old; do docker image rm "$old" >/dev/null && say "removed the outdated $old"; done
}
export -f import_image
step "image import" 300 import_image

# ---- 3. the tree and the wheelhouse -------------------------------------------------------
pack_tree() {
    # The working tree's tracked files (as edited now), without .git: what a clone has.
    git -C "$ROOT" ls-files -z --cached | while IFS= read -r -d '' path; do
        [ -f "$ROOT/$path" ] || [ -L "$ROOT/$path" ] && printf '%s\0' "$path"
    done >"$work/files"
    tar -C "$ROOT" --null -T "$work/files" --owner=0 --group=0 --numeric-owner -cf "$work/tree.tar"
    say "tree: $(tr -cd '\0' <"$work/files" | wc -c) tracked files, $(du -h "$work/tree.tar" | cut -f1)"
}
export -f pack_tree
step "pack tree" 60 pack_tree

wheel_key=$( (sha256sum "$ROOT/pyproject.toml" | cut -c1-16; "$HOST_PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null || true) | tr '\n' '-' | sed 's/-$//')
WHEELHOUSE=$CACHE/bare-wheelhouse/$wheel_key
export WHEELHOUSE
build_wheelhouse() {
    if [ -f "$WHEELHOUSE/.complete" ]; then
        say "cached: $WHEELHOUSE ($(ls "$WHEELHOUSE" | wc -l) files)"
        return
    fi
    if ! "$HOST_PYTHON" -m pip --version >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    local src=$work/wheel-src partial=$WHEELHOUSE.partial
    rm -rf "$src" "$partial" && mkdir -p "$src" "$partial"
    tar -C "$src" -xf "$work/tree.tar"  # build from a copy: never write build/ into the shared tree
    say "resolving with $HOST_PYTHON ($("$HOST_PYTHON" --version 2>&1)): pip, setuptools>=77, wheel, .[test]"
    "$HOST_PYTHON" -m pip wheel -q --wheel-dir "$partial" pip 'setuptools>=77' wheel "$src[test]" \
        >"$LOGS/wheelhouse.log" 2>&1 || { tail -n 30 "$LOGS/wheelhouse.log"; return 1; }
    rm -f "$partial"/layerlab-*.whl  # the course itself is installed editable from the tree
    touch "$partial/.complete"
    rm -rf "$WHEELHOUSE" && mv "$partial" "$WHEELHOUSE"
    say "built $WHEELHOUSE ($(ls "$WHEELHOUSE" | wc -l) wheels, $(du -sh "$WHEELHOUSE" | cut -f1))"
}
export -f build_wheelhouse
step "wheelhouse" 900 build_wheelhouse

# ---- 4. the container ---------------------------------------------------------------------
label_args=()
for label in "${LABELS[@]}"; do label_args+=(--label "$label"); done
say "== container $CONTAINER from $IMAGE"
container_made=1
timeout 60 docker create --name "$CONTAINER" "${label_args[@]}" --network none --pull never \
    --security-opt no-new-privileges --pids-limit 4096 --hostname bare-machine \
    "$IMAGE" sleep infinity >/dev/null
start_container() {
    docker start "$CONTAINER" >/dev/null
    docker exec "$CONTAINER" mkdir -p /src /wh
    docker cp - "$CONTAINER:/src" <"$work/tree.tar"
    tar -C "$WHEELHOUSE" --owner=0 --group=0 --exclude=.complete -cf - . | docker cp - "$CONTAINER:/wh"
    # The promise of a fresh machine, checked inside it.
    docker exec "$CONTAINER" bash -c '
        for program in docker dot busybox chromium; do
            if command -v "$program" >/dev/null; then echo "unexpected: $program is on PATH"; exit 1; fi
        done
        [ ! -e /var/run/docker.sock ] || { echo "unexpected: a docker socket"; exit 1; }
        ip_out=$(cat /proc/net/dev | awk -F: "NR>2 {print \$1}" | tr -d " " | grep -vx lo || true)
        [ -z "$ip_out" ] || { echo "unexpected network interfaces: $ip_out"; exit 1; }
        echo "bare machine: $(. /etc/os-release && echo "$PRETTY_NAME"), $(python3 --version), $(make --version | head -1), no docker/dot/busybox/chromium, loopback only"'
}
export -f start_container
step "container start + copy" 120 start_container

# ---- 5. install (the README's first step, through make) -----------------------------------
install_course() {
    in_box "$CONTAINER" make install >"$LOGS/install.log" 2>&1 || { tail -n 30 "$LOGS/install.log"; return 1; }
    in_box "$CONTAINER" .venv/bin/python -c 'import layerlab, sys; print("installed layerlab from", layerlab.__file__, "python", sys.version.split()[0])'
}
export -f install_course
step "make install" 600 install_course

# ---- 6. make test, and what ran ------------------------------------------------------------
test_status=0
run_tests() {
    in_box -e LAYERLAB_OUTCOMES=/tmp/outcomes.jsonl -e PYTHONPATH=/src/tests -e "PYTEST_ADDOPTS=-p outcomes_plugin" \
        "$CONTAINER" make test >"$LOGS/make-test.log" 2>&1
}
export -f run_tests
say "== make test (timeout 1200s), log in $LOGS/make-test.log"
run_bounded "make test" 1200 run_tests || test_status=$?
grep -E '^(=+ .*(passed|failed|error).* =+|FAILED |ERROR )' "$LOGS/make-test.log" | sed 's/^/    /' || true

check_outcomes() {
    docker cp "$CONTAINER:/tmp/outcomes.jsonl" "$LOGS/outcomes.jsonl" 2>/dev/null || : >"$LOGS/outcomes.jsonl"
    in_box "$CONTAINER" /usr/bin/python3 scripts/bare_check.py /tmp/outcomes.jsonl /src | tee "$LOGS/bare-check.txt"
}
export -f check_outcomes
say "== outcome check (timeout 60s)"
check_status=0
run_bounded "outcome check" 60 check_outcomes || check_status=$?

# ---- 7. make lab: it opens, lists the course, and says it runs from recordings ------------
lab_check() {
    # JupyterLab's settings through a config folder of the container's own (no Makefile change):
    # a token we know, no browser, loopback only.
    local token
    token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    in_box -e "TOKEN=$token" "$CONTAINER" bash -c 'mkdir -p /tmp/jupyter-config && cat >/tmp/jupyter-config/jupyter_server_config.json <<EOF
{"ServerApp": {"token": "$TOKEN", "open_browser": false, "ip": "127.0.0.1"}}
EOF'
    in_box -e JUPYTER_CONFIG_DIR=/tmp/jupyter-config "$CONTAINER" bash -c \
        "setsid make lab LAB_PORT=$LAB_PORT >/tmp/lab.log 2>&1 </dev/null & echo \$! >/tmp/lab.pid"
    # (Python given with -c: a here-document does not survive `export -f`.)
    local probe='
import json, sys, urllib.request
port, token = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/?content=1&token={token}", timeout=5) as answer:
        listing = json.load(answer)
except OSError:
    sys.exit(3)  # not up yet
names = {(item["name"], item["type"]) for item in listing.get("content", [])}
print("contents API lists:", ", ".join(sorted(name for name, _ in names)))
sys.exit(0 if ("00-setup.ipynb", "notebook") in names else 4)
'
    local answered=0 status
    for _ in $(seq 120); do
        if in_box "$CONTAINER" python3 -c "$probe" "$LAB_PORT" "$token"
        then answered=1; break
        else
            status=$?
            [ "$status" = 3 ] || { say "the server answered, but does not list 00-setup.ipynb as a notebook"; break; }
        fi
        in_box "$CONTAINER" bash -c 'kill -0 "$(cat /tmp/lab.pid)"' 2>/dev/null || { say "make lab exited early"; break; }
        sleep 1
    done
    in_box "$CONTAINER" cat /tmp/lab.log >"$LOGS/make-lab.log" 2>&1 || true
    in_box "$CONTAINER" bash -c 'kill -TERM -- -"$(cat /tmp/lab.pid)" 2>/dev/null; for _ in $(seq 20); do kill -0 "$(cat /tmp/lab.pid)" 2>/dev/null || exit 0; sleep 0.5; done; kill -KILL -- -"$(cat /tmp/lab.pid)"' || true
    [ "$answered" = 1 ] || { say "make lab did not serve the course within 120 s; its output:"; tail -n 30 "$LOGS/make-lab.log"; return 1; }
    grep -iE 'no (docker )?engine' "$LOGS/make-lab.log" | head -3 | sed 's/^/    make lab said: /'
    grep -qiE 'no (docker )?engine' "$LOGS/make-lab.log" && grep -qi 'recording' "$LOGS/make-lab.log" \
        || { say "make lab did not say it runs from recordings with no engine; its output:"; head -n 20 "$LOGS/make-lab.log"; return 1; }
    say "make lab opened the course from recordings and was stopped"
}
export -f lab_check
say "== make lab check (timeout 240s)"
lab_status=0
run_bounded "make lab check" 240 lab_check || lab_status=$?

say "results: make test status $test_status, outcome check status $check_status, make lab check status $lab_status"
[ "$test_status" = 0 ] && [ "$check_status" = 0 ] && [ "$lab_status" = 0 ] || exit 1
