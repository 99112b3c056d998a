"""A bases file: the stand-in bases' root filesystems, made once as root, imported by anyone.

A learner who is not root cannot build the Debian stand-in (debootstrap creates device files
and owners), and a rootless engine has no registry to pull from here. So an instructor runs,
once, as root:

    python -m layerlab prepare --export /srv/layerlab/bases.tar

and every learner's `prepare` imports from it, with `--from PATH` or with `LAYERLAB_BASES=PATH`
set for the class (notebook 00 then needs nothing else). The file is a plain tar:

    layerlab-bases.json   {"format": 1, "bases": [{"key", "versions", "tag", "member"}, ...]}
    ping-rootfs.tar       the busybox root filesystem (built FROM scratch + ADD rootfs.tar)
    app-rootfs.tar        the debootstrap root filesystem (docker import)

It holds files, not images: each learner's engine builds its own base from them, with that
learner's labels and names, by the same steps a root `prepare` takes. So a base made from the
file has the same layers and history as one made on the instructor's machine, and the recipe
fingerprint comes from the versions the file records (the learner's machine is not asked).
"""

from __future__ import annotations

import json
import os
import sys
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core.bases import BASES, base_spec
from ..core.errors import LayerlabError
from . import standins

BUNDLE_ENV = "LAYERLAB_BASES"
MANIFEST = "layerlab-bases.json"
FORMAT = 1


@dataclass(frozen=True)
class BundledBase:
    key: str
    versions: str  # what the stand-in was made from, as `standin_package_versions` says it
    tag: str  # the stand-in image's tag
    member: str  # the root filesystem tar's name in the file


class BadBundle(LayerlabError):
    """The bases file is missing, unreadable, or not one `prepare --export` wrote."""


def bundle_path(environ) -> str:
    """The bases file the environment names (`LAYERLAB_BASES`), or ""."""
    return (environ.get(BUNDLE_ENV) or "").strip()


class Bundle:
    """An opened bases file: its manifest, and each root filesystem extracted on demand."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            with tarfile.open(self.path) as archive:
                member = archive.getmember(MANIFEST)
                data = json.loads(archive.extractfile(member).read())  # type: ignore[union-attr]
        except FileNotFoundError:
            raise BadBundle(f"There is no bases file at {self.path}.",
                            "Check the path, or ask the instructor where the class's bases file is.") from None
        except PermissionError:
            raise BadBundle(f"The bases file {self.path} is not readable for you.",
                            "Ask the instructor to make it readable (chmod 0644).") from None
        except (tarfile.TarError, KeyError, ValueError, AttributeError, OSError) as error:
            raise BadBundle(f"{self.path} is not a bases file made by `prepare --export` ({error}).",
                            "Make it again with `python -m layerlab prepare --export PATH` as root.") from None
        if data.get("format") != FORMAT:
            raise BadBundle(f"{self.path} is a bases file of format {data.get('format')!r}; this course reads {FORMAT}.",
                            "Make it again with this version: `python -m layerlab prepare --export PATH` as root.")
        self.bases = {entry["key"]: BundledBase(**entry) for entry in data.get("bases", [])}

    def __contains__(self, key: str) -> bool:
        return key in self.bases

    def extract(self, key: str, folder: str | os.PathLike, name: str = "rootfs.tar") -> Path:
        """Write base `key`'s root filesystem tar into `folder` as `name`."""
        entry = self.bases[key]
        target = Path(folder, name)
        with tarfile.open(self.path) as archive:
            source = archive.extractfile(entry.member)
            if source is None:
                raise BadBundle(f"{self.path} lists {entry.member} but does not hold it.",
                                "Make it again with `python -m layerlab prepare --export PATH` as root.")
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        return target


def export_bases(path: str | os.PathLike, environ, keys=None, say=None) -> list[BundledBase]:
    """Make every stand-in's root filesystem on this machine and write them to the bases file
    `path` (readable by every learner). Needs what a root `prepare` needs: busybox-static,
    debootstrap, the Debian mirror apt uses, and root for the Debian one."""
    say = say or (lambda fraction, message: None)
    target = Path(path)
    keys = list(keys or BASES)
    if "app" in keys and os.geteuid() != 0:
        raise LayerlabError(
            "Making the bases file needs root: the Debian stand-in is made by debootstrap, which "
            "creates device files and owners.",
            f"Run it as root: `sudo {Path(sys.executable)} -m layerlab prepare --export {target}`.",
        )
    entries: list[BundledBase] = []
    with tempfile.TemporaryDirectory(prefix="layerlab-export-") as work:
        files = []
        for key in keys:
            spec = base_spec(key)
            versions = standins.standin_package_versions(spec)
            recipe = spec.recipe_fingerprint(versions)
            if key == "ping":
                folder = Path(work, key)
                folder.mkdir()
                rootfs = standins.busybox_rootfs_tar(spec, folder, say)
                tag = standins.busybox_version()
            elif key == "app":
                rootfs = standins.debian_rootfs_tar(spec, recipe, environ, say)
                tag = standins.DEBIAN_SUITE
            else:  # pragma: no cover - every base in BASES has a recipe above
                raise LayerlabError(f"{key} has no stand-in recipe to export.", "")
            entry = BundledBase(key=key, versions=versions, tag=tag, member=f"{key}-rootfs.tar")
            entries.append(entry)
            files.append((entry, rootfs))
        manifest = Path(work, MANIFEST)
        manifest.write_text(json.dumps({"format": FORMAT, "bases": [asdict(e) for e in entries]}, indent=1) + "\n")
        partial = target.with_name(target.name + ".partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(partial, "w") as archive:
            archive.add(manifest, arcname=MANIFEST)
            for entry, rootfs in files:
                say(0.95, f"{entry.key}: adding its root filesystem to {target}")
                archive.add(rootfs, arcname=entry.member)
        partial.chmod(0o644)
        partial.replace(target)
    return entries
