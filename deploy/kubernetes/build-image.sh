#!/usr/bin/env bash
# Build the learner pods' course image against the engine in DOCKER_HOST, with no registry:
#   1. a Debian bookworm base (python3, python3-venv) by debootstrap, imported as an image;
#   2. a wheelhouse: `pip wheel` of the course, jupyterhub (the singleuser server) and the
#      classroom service's database drivers (sqlalchemy, psycopg), the same image serving both;
#   3. the bases file (`python -m layerlab prepare --export`) the learner's engine imports;
#   4. `docker build` of deploy/kubernetes/Dockerfile, which installs with --no-index.
# Needs root (debootstrap), debootstrap, the docker CLI, and this repo's .venv (make install).
# Steps 1-3 read packages from this machine's apt and pip configuration only.
#   usage: deploy/kubernetes/build-image.sh [IMAGE]     (default layerlab/course:0.1.0)
set -euo pipefail
IMAGE=${1:-layerlab/course:0.1.0}
BASE=layerlab-k8s/course-base:bookworm
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${LAYERLAB_K8S_WORK:-${TMPDIR:-/tmp}/layerlab-k8s-image}
PY=$REPO/.venv/bin/python
mkdir -p "$WORK"

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  mirror=$("$PY" -c 'from layerlab.host.standins import debian_mirror; print(debian_mirror())')
  root=$(mktemp -d "$WORK/rootfs.XXXX")
  trap 'umount -l "$root/proc" "$root/sys" 2>/dev/null || true; rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$mirror"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
  tar --numeric-owner --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -C "$root" -c . |
    docker import --change 'CMD ["/bin/bash"]' \
      --change "LABEL layerlab.k8s.python=$(chroot "$root" python3 -c 'import platform; print(platform.python_version())')" \
      - "$BASE"
fi
# The wheels must suit the image's python (bookworm's 3.11.2), not this .venv's.
image_python=$(docker image inspect --format '{{index .Config.Labels "layerlab.k8s.python"}}' "$BASE")
[ -n "$image_python" ] || { echo "build-image: $BASE has no layerlab.k8s.python label; remove it and run again" >&2; exit 1; }

context=$WORK/context
rm -rf "$context" && mkdir -p "$context"
# The course as a wheel of its own, then every dependency as a binary wheel for the image's
# python and glibc (Debian 12: 2.36), as `pip download` chooses them for that interpreter.
"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$context/wheelhouse" "$REPO"
platforms=()
for tag in manylinux_2_34_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 \
           manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64 linux_x86_64; do
  platforms+=(--platform "$tag")
done
"$PY" -m pip download --quiet --dest "$context/wheelhouse" --only-binary=:all: \
  --python-version "$image_python" --implementation cp "${platforms[@]}" \
  "$context"/wheelhouse/layerlab-*.whl "jupyterhub>=5" "sqlalchemy>=2" "psycopg[binary]>=3.1"
cp -r "$REPO/notebooks" "$context/notebooks"
if [ ! -f "$WORK/bases.tar" ]; then
  "$PY" -m layerlab prepare --export "$WORK/bases.tar"
fi
cp "$WORK/bases.tar" "$context/bases.tar"
docker build --network=none --build-arg BASE="$BASE" -f "$HERE/Dockerfile" -t "$IMAGE" "$context"
echo "built $IMAGE; push it to the registry your cluster pulls from and set singleuser.image"
