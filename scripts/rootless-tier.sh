#!/usr/bin/env bash
# CI's rootless tier, as root: the course as a learner who is not root, on that learner's own
# rootless engine (docker-26-rootless).
#
#   bash scripts/rootless-tier.sh [USER]     (default layerlab-learner)
#
# 1. starts the learner's rootless engine (scripts/engine.sh start docker-26-rootless USER);
# 2. gives the learner a copy of this working tree in their home, with its own virtualenv on
#    the system's python3 (the learner cannot read root's python or pip settings, so root
#    installs it, then hands it over);
# 3. writes the class's bases file as root (prepare --export), and the learner imports it
#    (prepare --from): a learner who is not root cannot debootstrap;
# 4. runs, as the learner: the live tier, then every notebook live under nbval against the
#    stored outputs (which were recorded by root, on docker-26: the outputs must not depend on
#    who runs them, nor on the engine being rootless);
# 5. stops the engine and checks that none of its processes is left.
# LAYERLAB_ROOTLESS_KEEP=1 leaves the engine running at the end (for a session that goes on).
set -euo pipefail
cd "$(dirname "$0")/.."
user=${1:-${LAYERLAB_ROOTLESS_USER:-layerlab-learner}}
bases=${LAYERLAB_BASES_FILE:-/var/lib/layerlab/bases.tar}
say() { printf 'rootless-tier: %s\n' "$*"; }

began=$SECONDS
bash scripts/engine.sh start docker-26-rootless "$user"
say "engine up in $((SECONDS - began)) s"
eval "$(bash scripts/engine.sh env docker-26-rootless "$user")"
home=$(getent passwd "$user" | cut -d: -f6)
course=$home/layerlab

say "copying the course to $course"
rm -rf "$course.partial"
mkdir -p "$course.partial"
tar --exclude=./.venv --exclude=./.git --exclude='*/__pycache__' --exclude=./widgets/layerlab.egg-info -cf - . \
    | tar -xf - -C "$course.partial"
if [ -x "$course/.venv/bin/python" ] && [ "$course/.venv/.layerlab-installed" -nt pyproject.toml ] \
        && cmp -s pyproject.toml "$course/pyproject.toml"; then
    mv "$course/.venv" "$course.partial/.venv"  # the same dependencies: keep the installed venv
fi
rm -rf "$course"
mv "$course.partial" "$course"
make -C "$course" install PYTHON=/usr/bin/python3 2> >(grep -v "^WARNING: Location" >&2) >/dev/null
chown -R "$user:$(id -gn "$user")" "$course"

# Written every run (about 40 s with the root filesystem cached): a file left by an older
# recipe would hand the learner stale bases.
say "writing the class's bases file $bases (as root, as an instructor would once)"
"$course/.venv/bin/python" -m layerlab prepare --export "$bases" | tail -n 3

as_learner() {
    runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" LANG=C.UTF-8 \
        PATH="$course/.venv/bin:/usr/bin:/bin" CI="${CI:-}" \
        DOCKER_HOST="$DOCKER_HOST" DOCKER_CONFIG="$DOCKER_CONFIG" LAYERLAB_EXPECT_FLAVOUR="$LAYERLAB_EXPECT_FLAVOUR" \
        LAYERLAB_REGISTRY=off LAYERLAB_PROGRESS=off LAYERLAB_BASES="$bases" ${LAYERLAB_LEARNER:+LAYERLAB_LEARNER="$LAYERLAB_LEARNER"} \
        bash -c 'cd "$0" && "$@"' "$course" "$@"
}

step() {
    local name=$1 t0=$SECONDS
    shift
    say "$name"
    as_learner "$@"
    say "$name: done in $((SECONDS - t0)) s"
}

step "prepare the bases from $bases, as $user" python -m layerlab prepare
step "live tier as $user on docker-26-rootless" \
    python -m pytest -m "engine and not browser and not machine_root" tests -p no:cacheprovider -q ${PYTEST_ARGS:-}
step "notebooks live under nbval as $user on docker-26-rootless" env LAYERLAB_REPLAY_SPEED=instant LAYERLAB_LANG=en \
    python -m pytest notebooks --ignore=notebooks/ko --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
    -p no:cacheprovider -q ${PYTEST_ARGS:-}

if [ -z "${LAYERLAB_ROOTLESS_KEEP:-}" ]; then
    bash scripts/engine.sh stop docker-26-rootless "$user"
fi
say "done in $((SECONDS - began)) s"
