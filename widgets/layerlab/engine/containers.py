"""The engine door for containers: run under the course's rules, inspect, diff, stat,
exec, logs, stop, wait, commit and remove. `Container` is the handle lessons hold."""

from __future__ import annotations

import base64
import json
from typing import Iterator, Sequence
from urllib.parse import quote

from ..core.errors import EngineRefused, LayerlabError, NotOnEngine
from ..core.i18n import N_, _
from ..core.model import ChangeKind, ContainerLayer, FileChange
from ..core.naming import Namespace
from ..core.objects import ContainerInfo, ExecResult, PathStat
from .refusals import refused, refusal
from .sdk import docker

#: Options the course never passes to a container: loopback only, no host folders, no privileges.
FORBIDDEN = ("privileged", "network_mode", "network", "volumes", "mounts", "devices", "cap_add", "pid_mode")
REMOVED_ALREADY = N_("It may have been removed already.")
_MODE_DIR = 1 << 31  # Go's os.ModeDir, as the stat header reports it


class Container:
    """A container the course started (a handle on the engine door, not the SDK's object)."""

    def __init__(self, engine: "ContainersMixin", container_id: str, name: str):
        self.engine = engine
        self.id = container_id
        self.name = name

    def __repr__(self) -> str:
        return f"<Container {self.name}>"

    def info(self) -> ContainerInfo:
        return self.engine.container_info(self.id)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end; its exit code."""
        return self.engine.wait_container(self.id, timeout)

    def logs(self) -> str:
        """Everything it printed so far (stdout and stderr), as text."""
        return self.engine.container_logs(self.id).decode("utf-8", "replace")

    def follow_logs(self) -> Iterator[bytes]:
        """Its output as it comes, until it ends."""
        return self.engine.follow_logs(self.id)

    def exec_run(self, argv: Sequence[str]) -> ExecResult:
        return self.engine.exec_in(self.id, argv)

    def stop(self, timeout: int) -> None:
        self.engine.stop_container(self.id, timeout)

    def remove(self) -> bool:
        """Force-remove it with its anonymous volumes; True when it is gone."""
        return self.engine.remove_container(self.id)


class ContainersMixin:
    client: docker.DockerClient

    def run(self, namespace: Namespace, name: str, image: str, command=None, entrypoint=None, **kwargs) -> Container:
        """Start a container under the course's rules (detached)."""
        for forbidden in FORBIDDEN:
            if kwargs.get(forbidden):
                raise LayerlabError(
                    _("The course does not start containers with {option}=...").format(option=forbidden),
                    _("Containers here get loopback only, no host folders and no extra privileges."),
                )
            kwargs.pop(forbidden, None)
        container_name = namespace.container(name)
        # create, then start: never the SDK's containers.run, which answers a missing image by
        # pulling it. The course never pulls by accident (only `prepare` pulls).
        try:
            created = self.client.containers.create(
                image, command=command, entrypoint=entrypoint, name=container_name,
                labels=namespace.labels(), network_mode="none", privileged=False, **kwargs,
            )
        except docker.errors.ImageNotFound:
            raise LayerlabError(
                _("There is no image {image} on this engine, and the course does not pull images.").format(
                    image=repr(image)),
                _("Run the cell that builds it first, or `python -m layerlab prepare` for the base images."),
            ) from None
        except docker.errors.APIError as error:
            raise refusal(error) from None
        try:
            created.start()
        except docker.errors.APIError as error:
            # Created but not started (e.g. "executable file not found"): do not leave it behind.
            self.remove_container(created.id)
            raise refusal(error) from None
        return Container(self, created.id, container_name)

    def container_info(self, reference: str, size: bool = False) -> ContainerInfo:
        """The container `reference` (id or name) names; NotOnEngine when there is none.

        With `size`, SizeRw too (`GET /containers/{id}/json?size=1`, which the SDK's inspect
        cannot ask for: sent through the client's own session, as the SDK sends it).
        """
        if size:
            response = self.client.api.get(self._endpoint("containers", reference, "json"), params={"size": 1})
            raw = _json_answer(response, _("There is no container {reference}.").format(reference=reference))
        else:
            with refused():
                raw = self.client.api.inspect_container(reference)
        state = raw.get("State") or {}
        config = raw.get("Config") or {}
        size_rw = raw.get("SizeRw")
        return ContainerInfo(
            id=raw["Id"], name=(raw.get("Name") or "").lstrip("/"),
            image=config.get("Image", ""), image_id=raw.get("Image", ""),
            status=str(state.get("Status", "")), running=bool(state.get("Running")),
            labels=config.get("Labels") or {}, exit_code=state.get("ExitCode"),
            size_rw=None if size_rw is None else int(size_rw),
            cmdline=(raw.get("Path", ""),) + tuple(raw.get("Args") or ()),
            stop_signal=config.get("StopSignal") or "",
        )

    def _endpoint(self, *parts: str) -> str:
        """An Engine API URL, as the SDK forms it from its public base_url and api_version."""
        api = self.client.api
        return f"{api.base_url}/v{api.api_version}/" + "/".join(quote(part, safe="") for part in parts)

    def container_exists(self, reference: str) -> bool:
        try:
            with refused():
                self.client.api.inspect_container(reference)
        except NotOnEngine:
            return False
        return True

    def container_changes(self, container_id: str) -> dict[str, ChangeKind]:
        """`docker diff`: every changed path of the R/W layer and how it changed."""
        from ..core.copyup import changes_from_api  # here: only a watcher or a lesson asks

        with refused():
            return changes_from_api(self.client.api.diff(container_id))

    def stat_path(self, container_id: str, path: str) -> PathStat | None:
        """The stat behind `docker cp`: `HEAD /containers/{id}/archive?path=P`, so no file is
        copied (the SDK's get_archive would stream it). None when the path is not there."""
        response = self.client.api.head(self._endpoint("containers", container_id, "archive"),
                                        params={"path": path}, timeout=5)
        if response.status_code != 200:
            return None
        header = response.headers.get("X-Docker-Container-Path-Stat")
        if not header:
            return None
        stat = json.loads(base64.b64decode(header))
        is_dir = bool(int(stat.get("mode", 0)) & _MODE_DIR)
        return PathStat(size=int(stat.get("size", 0)), is_dir=is_dir)

    def container_layer(self, container_id: str, with_changes: bool = True) -> ContainerLayer:
        """The container's R/W layer: its size (SizeRw) and, optionally, its changes."""
        with refused():
            listed = self.client.api.containers(all=True, size=True, filters={"id": container_id})
            if not listed:
                raise LayerlabError(_("There is no container {reference}.").format(reference=repr(container_id)),
                                    _(REMOVED_ALREADY))
            raw = listed[0]
            changes: tuple[FileChange, ...] = ()
            if with_changes:
                changes = tuple(
                    FileChange(path=c["Path"], kind=ChangeKind.from_api(c["Kind"]))
                    for c in (self.client.api.diff(raw["Id"]) or [])
                )
        names = raw.get("Names") or [""]
        return ContainerLayer(
            container_id=raw["Id"], name=names[0].lstrip("/"), image_id=raw.get("ImageID", ""),
            size_rw=int(raw.get("SizeRw") or 0), size_root_fs=int(raw.get("SizeRootFs") or 0), changes=changes,
        )

    def wait_container(self, container_id: str, timeout: float | None = None) -> int:
        with refused():
            return int(self.client.api.wait(container_id, timeout=timeout).get("StatusCode", -1))

    def container_logs(self, container_id: str) -> bytes:
        with refused():
            return self.client.api.logs(container_id)

    def follow_logs(self, container_id: str) -> Iterator[bytes]:
        with refused():
            yield from self.client.api.logs(container_id, stream=True, follow=True)

    def exec_in(self, container_id: str, argv: Sequence[str]) -> ExecResult:
        """`docker exec` of `argv`, waited for; its exit code and output."""
        with refused():
            exec_id = self.client.api.exec_create(container_id, list(argv))["Id"]
            output = self.client.api.exec_start(exec_id)
            code = self.client.api.exec_inspect(exec_id).get("ExitCode")
        return ExecResult(exit_code=-1 if code is None else int(code), output=output)

    def stop_container(self, container_id: str, timeout: int) -> None:
        with refused():
            self.client.api.stop(container_id, timeout=timeout)

    def remove_container(self, container_id: str) -> bool:
        """Force-remove with anonymous volumes; True when it is gone (also if it was already)."""
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            return False
        return True

    def commit(self, container_id: str, repository: str, tag: str, message: str, changes: list[str]) -> str:
        """`docker commit`: the R/W layer becomes the top layer of a new image; its id."""
        with refused():
            return self.client.api.commit(container_id, repository=repository, tag=tag, message=message,
                                          changes=changes)["Id"]


def _json_answer(response, missing: str):
    """A raw answer's JSON, or the course's refusal (NotOnEngine for 404, saying `missing`)."""
    if response.status_code == 404:
        raise NotOnEngine(missing, _(REMOVED_ALREADY), status=404)
    if response.status_code >= 400:
        said = response.text.strip()
        raise EngineRefused(_("The engine answered {status}: {said}").format(status=response.status_code, said=said),
                            status=response.status_code, explanation=said)
    return response.json()
