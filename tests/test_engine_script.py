"""scripts/engine.sh's rootless flavour, as root: a throwaway learner's engine starts, runs a
container, and `stop` leaves no process of it behind, takes back the learner's grant on
/dev/net/tun, and leaves other learners' engines alone.

Marked `engine` (it needs the docker-26 engine files that `engine.sh start docker-26`
installs) and `machine_root` (it creates a user and runs engines): the root tiers run it, a
learner's own tier leaves it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from support import ROOT, need

pytestmark = [pytest.mark.engine, pytest.mark.machine_root, pytest.mark.timeout(240)]

USER = "layerlab-stoptest"
SCRIPT = ROOT / "scripts" / "engine.sh"
TUN = "/dev/net/tun"


def engine_sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=180)


def processes_of(uid: int) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # it ended meanwhile
    return found


def tun_acl() -> str:
    return subprocess.run(["getfacl", "--omit-header", "--absolute-names", TUN], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def rootless_engine(tmp_path_factory):
    need(os.geteuid() == 0, "starting a rootless engine for another user needs root")
    need(shutil.which("busybox") is not None or Path("/bin/busybox").exists(), "busybox-static is not installed")
    import fcntl

    lock = open("/run/layerlab-stoptest.lock", "w")  # two root sessions take turns with this user
    fcntl.flock(lock, fcntl.LOCK_EX)
    started = engine_sh("start", "docker-26-rootless", USER)
    assert started.returncode == 0, started.stdout + started.stderr
    env = dict(line.removeprefix("export ").split("=", 1) for line in
               engine_sh("env", "docker-26-rootless", USER).stdout.splitlines() if line.startswith("export "))
    yield env
    engine_sh("stop", "docker-26-rootless", USER)
    lock.close()


def test_stop_leaves_no_process_and_takes_back_the_device_grant(rootless_engine, tmp_path):
    import pwd

    uid = pwd.getpwnam(USER).pw_uid
    home = Path(pwd.getpwnam(USER).pw_dir)
    assert oct(home.stat().st_mode & 0o777) == "0o700"
    assert f"user:{USER}:rw-" in tun_acl() or os.access(TUN, os.R_OK | os.W_OK)
    # a container running when the engine stops: its shim and process must go too
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (root / "bin" / applet).symlink_to("busybox")
    with tarfile.open(tmp_path / "rootfs.tar", "w") as archive:
        archive.add(root, arcname=".")
    docker = ["/opt/layerlab-engines/docker-26/usr/bin/docker"]
    env = dict(os.environ, **rootless_engine)
    def run(*args):
        return subprocess.run(docker + list(args), capture_output=True, text=True, env=env, timeout=60)
    imported = run("import", "--change", "LABEL layerlab.course=layerlab", str(tmp_path / "rootfs.tar"), "layerlab-stoptest/box:1")
    assert imported.returncode == 0, imported.stderr
    box = run("run", "-d", "--pull=never", "--network=none", "--label", "layerlab.course=layerlab",
              "layerlab-stoptest/box:1", "sleep", "300")
    assert box.returncode == 0, box.stderr
    assert any("containerd-shim" in line for line in processes_of(uid)), processes_of(uid)
    assert any("sleep 300" in line for line in processes_of(uid))

    other = engine_sh("status", "docker-26-rootless", "layerlab-learner").returncode  # another learner's, if any
    stopped = engine_sh("stop", "docker-26-rootless", USER)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "none of its processes is left" in stopped.stdout
    deadline = time.monotonic() + 10  # the kernel reaps what just exited
    while processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of(uid) == [], "left behind by stop: " + "; ".join(processes_of(uid))
    assert f"user:{USER}:" not in tun_acl(), tun_acl()
    assert engine_sh("status", "docker-26-rootless", USER).returncode != 0
    assert engine_sh("status", "docker-26-rootless", "layerlab-learner").returncode == other
    again = engine_sh("stop", "docker-26-rootless", USER)
    assert again.returncode == 0 and "is not running" in again.stdout
