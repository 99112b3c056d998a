"""`Engine`: the one object lessons talk to for anything that touches Docker.

It turns raw API answers into core objects (`ImageStack`, `ContainerLayer`, `FileChange`) and
applies the course's rules to everything it creates: the three labels, a learner-namespaced
name, no network but loopback, never privileged, no host folders or sockets mounted.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

import docker
import docker.errors

from ..core.archive import read_saved_image
from ..core.errors import BuildFailed, LayerlabError
from ..core.engineinfo import EngineFacts
from ..core.model import ContainerLayer, FileChange, ChangeKind, HistoryRecord, ImageStack, build_stack
from ..core.naming import Namespace
from ..replay.notes import LiveNotes

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


@dataclass(frozen=True)
class BuildLine:
    """One line of a classic build's stream, for views that show a build as it happens."""

    text: str
    step: int | None = None
    total: int | None = None
    instruction: str | None = None
    cache_hit: bool = False
    made: str | None = None


class Engine:
    """A connected engine. Create it with `layerlab.connect()`."""

    live = True

    def __init__(self, client: docker.DockerClient, facts: EngineFacts, environ: Mapping[str, str]):
        self.client = client
        self.facts = facts
        self.environ = dict(environ)
        self._configs: dict[str, dict] = {}
        #: Set when recording (live) or replaying (not live): see layerlab.engine.sources.
        self.recording = None
        self._wire = None
        #: Values that depend on the clock: measured live, kept when recording, given back in replay.
        self.notes = LiveNotes()
        self.source_note = f"Live: Docker {facts.engine_version} ({facts.flavour})."

    def flush_recording(self) -> None:
        """Save the recording now (recording mode only; replaced by start_recording)."""

    def __repr__(self) -> str:
        return f"<Engine Docker {self.facts.engine_version} at {self.facts.host}, {self.facts.flavour}>"

    def close(self) -> None:
        self.client.close()
        if self.recording is not None and self.live:
            self.flush_recording()
        if self._wire is not None:
            self._wire.stop()

    def namespace(self, lesson: str) -> Namespace:
        return Namespace.for_lesson(lesson, self.environ)

    # -- images ---------------------------------------------------------------------------

    def image_config(self, image_id: str) -> dict:
        """The image's config (with history and empty_layer flags), read from `docker save`."""
        if image_id not in self._configs:
            stream = self.client.api.get_image(image_id)
            self._configs[image_id] = read_saved_image(stream).config
            for _ in stream:  # the archive's padding: read to the end so the answer is whole
                pass
        return self._configs[image_id]

    def repo_digests(self, reference: str) -> tuple[str, ...]:
        """The image's registry digests (`RepoDigests`): none for an image built here."""
        return tuple(self.client.api.inspect_image(reference).get("RepoDigests") or ())

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
                    raise
                if not self.notes.replaying:
                    time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def image_stack(self, reference: str, exact: bool = True) -> ImageStack:
        """The image as a stack of history entries matched to its layers.

        With `exact` (the default) the `empty_layer` flags come from the image's config, read
        from `docker save`; without it, the pairing is inferred from the history alone.
        """
        try:
            image = self.client.api.inspect_image(reference)
        except docker.errors.ImageNotFound:
            raise LayerlabError(
                f"There is no image {reference!r} on this engine.",
                "Build it first (run the cells above), or check the name.",
            ) from None
        history = self.client.api.history(image["Id"])  # newest first
        flags: list[bool] | None = None
        if exact:
            config_history = self.image_config(image["Id"]).get("history", [])
            if len(config_history) == len(history):
                flags = [bool(h.get("empty_layer", False)) for h in config_history]
        records = [
            history_record(raw, None if flags is None else flags[position])
            for position, raw in enumerate(reversed(history))
        ]
        return build_stack(
            image_id=image["Id"],
            tags=image.get("RepoTags") or (),
            history=records,
            diff_ids=image.get("RootFS", {}).get("Layers", []),
            size=int(image.get("Size") or 0),
        )

    def build(
        self,
        namespace: Namespace,
        name: str,
        context: Path,
        dockerfile: str = "Dockerfile",
        tag: str = "latest",
        on_line: Callable[[BuildLine], None] | None = None,
        nocache: bool = False,
        extra_labels: Mapping[str, str] | None = None,
        allow_network: bool = False,
    ) -> str:
        """Build with the classic builder (the SDK's), streaming lines to `on_line`.

        Returns the new image's id. RUN steps get no network (unless `allow_network`: only for
        installing packages on a pulled official base, as the seed's `apk add` does);
        intermediate containers are removed even when the build fails. A failed build raises
        `BuildFailed`.
        """
        reference = namespace.image(name, tag)
        labels = namespace.labels(**(extra_labels or {}))
        image_id = None
        last_step = ""
        log: list[str] = []
        made: list[str] = []  # the images of finished steps, to remove if the build fails
        try:
            stream = self.client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=reference,
                labels=labels,
                network_mode=None if allow_network else "none",
                rm=True,
                forcerm=True,
                nocache=nocache,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    message = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                    self._remove_untagged(made)
                    raise BuildFailed(
                        f"The build stopped at {last_step or 'the start'}: {message.strip()}",
                        "Fix that step of the Dockerfile (or the file it needs) and build again.",
                        step=last_step,
                        engine_message=message.strip(),
                    )
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                text = chunk.get("stream")
                if not text:
                    continue
                for line in text.splitlines():
                    if not line.strip():
                        continue
                    parsed = parse_build_line(line)
                    if parsed.made:
                        made.append(parsed.made)
                    if parsed.instruction:
                        last_step = f"step {parsed.step}/{parsed.total} ({parsed.instruction})"
                    log.append(line)
                    if on_line:
                        on_line(parsed)
        except docker.errors.APIError as exc:
            message = exc.explanation or str(exc)
            raise BuildFailed(
                f"The engine refused the build: {message}",
                "Check the Dockerfile's syntax and that every file it names is in the build context.",
                step=last_step,
                engine_message=str(message),
            ) from None
        if image_id is None:
            image_id = self.client.api.inspect_image(reference)["Id"]
        return image_id

    def _remove_untagged(self, image_ids: list[str]) -> None:
        """A failed classic build leaves its finished steps' images, untagged and without the
        course's labels (those come last): remove them, newest first, so nothing is left behind."""
        for image_id in reversed(image_ids):
            try:
                if not self.client.api.inspect_image(image_id).get("RepoTags"):
                    self.client.api.remove_image(image_id, noprune=True)
            except docker.errors.APIError:
                pass  # a base image, or one another build still uses

    # -- containers -----------------------------------------------------------------------

    def run(
        self,
        namespace: Namespace,
        name: str,
        image: str,
        command=None,
        entrypoint=None,
        **kwargs,
    ):
        """Start a container under the course's rules (detached); returns the SDK's Container."""
        for forbidden in ("privileged", "network_mode", "network", "volumes", "mounts", "devices", "cap_add", "pid_mode"):
            if kwargs.get(forbidden):
                raise LayerlabError(
                    f"The course does not start containers with {forbidden}=...",
                    "Containers here get loopback only, no host folders and no extra privileges.",
                )
            kwargs.pop(forbidden, None)
        container_name = namespace.container(name)
        # containers.create, then start: never the SDK's containers.run, which answers a missing
        # image by pulling it. The course never pulls by accident (only `prepare` pulls).
        try:
            container = self.client.containers.create(
                image,
                command=command,
                entrypoint=entrypoint,
                name=container_name,
                labels=namespace.labels(),
                network_mode="none",
                privileged=False,
                **kwargs,
            )
        except docker.errors.ImageNotFound:
            raise LayerlabError(
                f"There is no image {image!r} on this engine, and the course does not pull images.",
                "Run the cell that builds it first, or `python -m layerlab prepare` for the base images.",
            ) from None
        try:
            container.start()
        except docker.errors.APIError:
            # Created but not started (e.g. "executable file not found"): do not leave it behind.
            try:
                self.client.api.remove_container(container.id, force=True, v=True)
            except docker.errors.APIError:
                pass
            raise
        return container

    def container_layer(self, container_id: str, with_changes: bool = True) -> ContainerLayer:
        """The container's R/W layer: its size (SizeRw) and, optionally, its changes."""
        listed = self.client.api.containers(all=True, size=True, filters={"id": container_id})
        if not listed:
            raise LayerlabError(f"There is no container {container_id!r}.", "It may have been removed already.")
        raw = listed[0]
        changes: tuple[FileChange, ...] = ()
        if with_changes:
            changes = tuple(
                FileChange(path=c["Path"], kind=ChangeKind.from_api(c["Kind"]))
                for c in (self.client.api.diff(raw["Id"]) or [])
            )
        names = raw.get("Names") or [""]
        return ContainerLayer(
            container_id=raw["Id"],
            name=names[0].lstrip("/"),
            image_id=raw.get("ImageID", ""),
            size_rw=int(raw.get("SizeRw") or 0),
            size_root_fs=int(raw.get("SizeRootFs") or 0),
            changes=changes,
        )

    def labeled(self, kind: str, filters: list[str]) -> list:
        """The engine's objects of one kind (containers, images, volumes, networks) with all labels."""
        label_filter = {"label": filters}
        if kind == "containers":
            return self.client.containers.list(all=True, filters=label_filter)
        if kind == "images":
            # Top-level images only: a classic build's intermediate images carry some of the
            # labels too, and go with the image they lead to.
            return self.client.images.list(filters=label_filter)
        if kind == "volumes":
            return self.client.volumes.list(filters=label_filter)
        if kind == "networks":
            return self.client.networks.list(filters=label_filter)
        raise ValueError(kind)


def parse_build_line(line: str) -> BuildLine:
    """Read one line of the classic builder's stream."""
    match = _STEP.match(line.strip())
    if match:
        return BuildLine(text=line, step=int(match.group(1)), total=int(match.group(2)), instruction=match.group(3))
    stripped = line.strip()
    if stripped == "---> Using cache":
        return BuildLine(text=line, cache_hit=True)
    if stripped.startswith("---> ") and re.fullmatch(r"---> [0-9a-f]{12}", stripped):
        return BuildLine(text=line, made=stripped[5:])
    return BuildLine(text=line)


def history_record(raw: Mapping, empty_layer: bool | None = None) -> HistoryRecord:
    """One entry of `GET /images/{id}/history` (what `docker history` prints) as the core's record."""
    raw_id = raw.get("Id") or ""
    return HistoryRecord(
        created_by=raw.get("CreatedBy") or "",
        size=int(raw.get("Size") or 0),
        created=_from_epoch(raw.get("Created")),
        comment=raw.get("Comment") or "",
        image_id=None if raw_id in ("", "<missing>") else raw_id,
        tags=tuple(raw.get("Tags") or ()),
        empty_layer=empty_layer,
    )


def _from_epoch(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None

