"""What a stand-in base needs from this machine: the Debian mirror apt uses, the installed
packages' versions (dpkg), a busybox root filesystem tar, a debootstrap root filesystem tar,
and the cache folder that keeps the latter.

Every function that takes a while reports through `say(fraction, message)`; the messages
start with the base's key, as prepare's progress lines do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from ..core.bases import BaseSpec
from ..core.errors import NoRegistryAndNoRecipe

CACHE_ENV = "LAYERLAB_CACHE"
DEBIAN_SUITE = "bookworm"
BUSYBOX = Path("/bin/busybox")

Say = Callable[[float, str], None]


def cache_dir(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    root = environ.get(CACHE_ENV) or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "layerlab"
    )
    return Path(root)


def standin_package_versions(spec: BaseSpec) -> str:
    if spec.key == "app":
        return f"debootstrap {DEBIAN_SUITE} minbase +{'+'.join(spec.standin_packages)}"
    versions = []
    for package in spec.standin_packages:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
        ) if shutil.which("dpkg-query") else None
        if result is None or result.returncode != 0 or not result.stdout:
            raise NoRegistryAndNoRecipe(
                f"No registry answers, and the Debian package {package} is not installed to build "
                f"the {spec.key} base locally.",
                f"Install it (as root: `apt-get install -y {package}`), or connect to a network "
                "where the engine can pull images.",
            )
        versions.append(f"{package}={result.stdout.strip()}")
    return " ".join(versions)


# -- busybox -------------------------------------------------------------------------------------

def busybox_version() -> str:
    """The installed busybox's version (the stand-in's tag), or "debian" when it says none."""
    if not BUSYBOX.exists():
        raise NoRegistryAndNoRecipe(
            "busybox-static is registered as installed but /bin/busybox is missing.",
            "Reinstall it: `apt-get install --reinstall -y busybox-static`.",
        )
    version = re.search(r"v(\d+\.\d+\.\d+)", subprocess.run([str(BUSYBOX)], capture_output=True, text=True).stdout)
    return version.group(1) if version else "debian"


def busybox_rootfs_tar(spec: BaseSpec, folder: Path, say: Say) -> Path:
    """Pack busybox, a link per applet, and a passwd and group into `folder`/rootfs.tar."""
    say(0.2, f"{spec.key}: packing busybox and its applets into a root filesystem")
    root = Path(folder, "rootfs")
    for directory in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "usr/bin", "var"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and not (root / "bin" / applet).exists():
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    tarball = Path(folder, "rootfs.tar")
    subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."], check=True)
    shutil.rmtree(root)
    return tarball


# -- debootstrap ---------------------------------------------------------------------------------

def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (never a name written into the course)."""
    candidates = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.exists() else []:
        for block in path.read_text(errors="replace").split("\n\n"):
            fields = dict(
                (line.split(":", 1)[0].strip().lower(), line.split(":", 1)[1].strip())
                for line in block.splitlines()
                if ":" in line and not line.lstrip().startswith("#")
            )
            suites = fields.get("suites", "").split()
            for uri in fields.get("uris", "").split():
                candidates.append((DEBIAN_SUITE in suites, "security" not in uri, uri))
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                uri_index = 2 if parts[1].startswith("[") else 1
                uri, suite = parts[uri_index], parts[uri_index + 1] if len(parts) > uri_index + 1 else ""
                candidates.append((suite == DEBIAN_SUITE, "security" not in uri, uri))
    candidates.sort(reverse=True)
    if not candidates or not candidates[0][1]:
        raise NoRegistryAndNoRecipe(
            "No registry answers, and this machine has no Debian mirror in its apt sources to "
            "build the app base from.",
            "Connect the engine to a registry, or run prepare on a Debian machine.",
        )
    return candidates[0][2]


def debian_rootfs_tar(spec: BaseSpec, recipe: str, environ, say: Say) -> Path:
    """The Debian root filesystem tar for `recipe`, from the cache, or made by debootstrap
    (which needs debootstrap installed, and root) and cached."""
    cache = cache_dir(environ) / "rootfs"
    tarball = cache / f"debian-{DEBIAN_SUITE}-app-{recipe}.tar"
    if not tarball.exists():
        if os.geteuid() != 0:
            raise NoRegistryAndNoRecipe(
                "Building the Debian stand-in needs root (debootstrap creates device files and owners), "
                "you are not root, and no bases file was given to import it from.",
                "Ask your instructor for the class's bases file (made once, as root, with "
                "`python -m layerlab prepare --export bases.tar`), then run "
                "`python -m layerlab prepare --from bases.tar`, or set LAYERLAB_BASES to its path.",
            )
        if not shutil.which("debootstrap"):
            raise NoRegistryAndNoRecipe(
                "No registry answers, and debootstrap is not installed to build the app base locally.",
                "Install it (as root: `apt-get install -y debootstrap`), or use an engine that can pull images.",
            )
        cache.mkdir(parents=True, exist_ok=True)
        debootstrap_to_tar(spec, tarball, say)
    else:
        say(0.8, f"{spec.key}: reusing the root filesystem cached in {tarball}")
    return tarball


DEBOOTSTRAP_STAGES = (
    ("Retrieving Release", 0.05), ("Retrieving Packages", 0.1), ("Retrieving", 0.2),
    ("Extracting", 0.35), ("Installing core", 0.45), ("Unpacking", 0.55),
    ("Configuring", 0.65), ("Base system installed", 0.75),
)

#: What the stand-in leaves out of its root filesystem (emptied, not removed).
_TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists", "var/cache/apt", "var/log")


def debootstrap_to_tar(spec: BaseSpec, tarball: Path, say: Say) -> None:
    """debootstrap a minbase Debian with the spec's packages, trim it, and tar it to `tarball`."""
    mirror = debian_mirror()
    work = Path(tempfile.mkdtemp(prefix="layerlab-debootstrap-", dir=tarball.parent))
    root = work / "rootfs"
    command = [
        "debootstrap", "--variant=minbase", f"--include={','.join(spec.standin_packages)}",
        DEBIAN_SUITE, str(root), mirror,
    ]
    say(0.02, f"{spec.key}: debootstrap {DEBIAN_SUITE} (about a minute)")
    try:
        _run_debootstrap(spec, command, say)
        say(0.78, f"{spec.key}: trimming docs, locales and apt lists")
        for trash in _TRIMMED:
            target = root / trash
            if target.exists():
                shutil.rmtree(target)
                target.mkdir(parents=True)
        (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        python_link = root / "usr/local/bin/python"
        if not python_link.exists():
            python_link.symlink_to("/usr/bin/python3")  # the seed's `CMD python /app/app.py`
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
             "-C", str(root), "-cf", str(partial), "."],
            check=True,
        )
        partial.rename(tarball)
    finally:
        for mount in ("proc", "sys"):
            subprocess.run(["umount", "-l", str(root / mount)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _run_debootstrap(spec: BaseSpec, command: list[str], say: Say) -> None:
    """Run debootstrap, saying each stage it reaches once; its last lines tell a failure."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = []
    assert process.stdout is not None
    fraction = 0.02
    for line in process.stdout:
        tail = (tail + [line.rstrip()])[-15:]
        for marker, value in DEBOOTSTRAP_STAGES:
            if marker in line and value > fraction:
                fraction = value
                say(fraction, f"{spec.key}: {line.strip()[2:][:70]}")
                break
    if process.wait() != 0:
        raise NoRegistryAndNoRecipe(
            "debootstrap failed: " + " | ".join(tail[-3:]),
            "Check that apt can reach the Debian mirror (`apt-get update`), then run prepare again.",
        )
