"""Building the stand-in base images on the engine, from root filesystem tars made on this
machine (`layerlab.host.standins`) or taken from a bases file (`layerlab.host.bundle`).

`prepare` decides which base is needed and labels it; this module only builds one:
the busybox stand-in `FROM scratch` + `ADD rootfs.tar /`, the Debian one by `docker import`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..core.bases import BaseSpec
from ..core.errors import LayerlabError
from ..core.naming import LABEL_RECIPE
from ..host import standins
from ..host.bundle import Bundle

if TYPE_CHECKING:  # annotations only
    from .engine import Engine


@dataclass(frozen=True)
class Progress:
    """One step of `prepare`, for a progress bar or a log line."""

    key: str
    fraction: float
    message: str


ProgressCallback = Callable[[Progress], None]


def _say(spec: BaseSpec, progress: ProgressCallback):
    """The host layer's `say(fraction, message)`, as this base's progress."""
    return lambda fraction, message: progress(Progress(spec.key, fraction, message))


def busybox_standin(engine: Engine, ns, spec, labels, progress, bundle: Bundle | None = None):
    tag = bundle.bases[spec.key].tag if bundle else standins.busybox_version()
    reference = ns.image(spec.standin_name, tag)
    with tempfile.TemporaryDirectory(prefix="layerlab-busybox-") as context:
        if bundle:
            progress(Progress(spec.key, 0.2, f"{spec.key}: taking its root filesystem from {bundle.path}"))
            bundle.extract(spec.key, context)
        else:
            standins.busybox_rootfs_tar(spec, Path(context), _say(spec, progress))
        Path(context, "Dockerfile").write_text(
            "FROM scratch\nADD rootfs.tar /\nENV PATH=/bin:/usr/bin\nCMD [\"sh\"]\n"
        )
        progress(Progress(spec.key, 0.6, f"{spec.key}: building {reference} (FROM scratch + ADD rootfs.tar)"))
        for event in engine.build_events(context, reference, labels):
            if event.error:
                raise LayerlabError(f"Building {reference} failed: {event.error}", "Run prepare again.")
    return reference, engine.image(reference).id


def debian_standin(engine: Engine, ns, spec, labels, progress, bundle: Bundle | None = None):
    reference = ns.image(spec.standin_name, bundle.bases[spec.key].tag if bundle else standins.DEBIAN_SUITE)
    changes = [f'LABEL "{k}"="{v}"' for k, v in labels.items()] + [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
    ]
    repository, tag = reference.rsplit(":", 1)
    if bundle:
        with tempfile.TemporaryDirectory(prefix="layerlab-debian-") as folder:
            progress(Progress(spec.key, 0.3, f"{spec.key}: taking its root filesystem from {bundle.path}"))
            tarball = bundle.extract(spec.key, folder)
            progress(Progress(spec.key, 0.85, f"{spec.key}: importing it as {reference} (docker import)"))
            return reference, engine.import_image(str(tarball), repository, tag, changes)
    tarball = standins.debian_rootfs_tar(spec, labels[LABEL_RECIPE], engine.environ, _say(spec, progress))
    progress(Progress(spec.key, 0.85, f"{spec.key}: importing it as {reference} (docker import)"))
    return reference, engine.import_image(str(tarball), repository, tag, changes)
