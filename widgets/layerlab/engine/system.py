"""The engine door for what spans resources: disk usage, and the course's labeled objects."""

from __future__ import annotations

import time

import docker
import docker.errors

from ..core.objects import Labeled
from .refusals import refusal, refused

KINDS = ("containers", "images", "volumes", "networks")


class SystemMixin:
    client: docker.DockerClient

    #: How long `disk_usage` waits for another caller's `docker system df` to finish.
    DISK_USAGE_WAIT = 60.0

    def disk_usage(self) -> dict:
        """`docker system df -v`, as the API gives it.

        Docker before 23 runs one disk-usage computation at a time and answers a second caller
        (another learner, on a shared engine) with 409 "a disk usage operation is already
        running"; newer engines share the one computation. Busy answers are asked again until
        the other computation ends, for at most DISK_USAGE_WAIT s.
        """
        deadline = time.monotonic() + self.DISK_USAGE_WAIT
        pause = 0.2
        while True:
            try:
                return self.client.api.df()
            except docker.errors.APIError as error:
                busy = "already running" in str(error.explanation or error)
                if not busy or time.monotonic() + pause > deadline:
                    raise refusal(error) from None
                if not self.notes.replaying:
                    time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def disk_bytes(self) -> int:
        """What the engine's disk holds, in bytes, as `docker system df` adds it up: image
        layers, containers' writable layers, volumes, and the build cache not shared with images
        (the whole engine: on a shared engine, every learner's)."""
        usage = self.disk_usage()
        total = int(usage.get("LayersSize") or 0)
        total += sum(int(c.get("SizeRw") or 0) for c in usage.get("Containers") or [])
        total += sum(max(0, int((v.get("UsageData") or {}).get("Size") or 0)) for v in usage.get("Volumes") or [])
        total += sum(int(b.get("Size") or 0) for b in usage.get("BuildCache") or [] if not b.get("Shared"))
        return total

    def labeled(self, kind: str, filters: list[str]) -> list[Labeled]:
        """The engine's objects of one kind (containers, images, volumes, networks) with all labels.

        Images: top-level ones only (a classic build's intermediate images carry some of the
        labels too, and go with the image they lead to).
        """
        label_filter = {"label": filters}
        api = self.client.api
        with refused():
            if kind == "containers":
                return [Labeled(kind, c["Id"], ((c.get("Names") or ["/"])[0]).lstrip("/"), c.get("Labels") or {})
                        for c in api.containers(all=True, filters=label_filter)]
            if kind == "images":
                return [Labeled(kind, i["Id"], i["Id"], i.get("Labels") or {}, _tags(i), float(i.get("Created") or 0))
                        for i in api.images(filters=label_filter)]
            if kind == "volumes":
                return [Labeled(kind, v["Name"], v["Name"], v.get("Labels") or {})
                        for v in (api.volumes(filters=label_filter) or {}).get("Volumes") or []]
            if kind == "networks":
                return [Labeled(kind, n["Id"], n["Name"], n.get("Labels") or {})
                        for n in api.networks(filters=label_filter)]
        raise ValueError(kind)

    def remove_labeled(self, item: Labeled) -> None:
        """Remove one labeled volume or network (containers and images have their own calls)."""
        with refused():
            if item.kind == "volumes":
                self.client.api.remove_volume(item.id)
            elif item.kind == "networks":
                self.client.api.remove_network(item.id)
            else:
                raise ValueError(item.kind)


def _tags(raw) -> tuple[str, ...]:
    """An image's tags as `docker images` lists them (older engines write "<none>:<none>")."""
    return tuple(tag for tag in raw.get("RepoTags") or () if tag != "<none>:<none>")
