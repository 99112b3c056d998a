"""The engine door for images: inspect, history, save, tag, remove, import, pull and push."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator, Mapping

from ..core.archive import read_saved_image
from ..core.errors import LayerlabError, NotOnEngine
from ..core.i18n import _
from ..core.model import HistoryRecord, ImageStack, build_stack
from ..core.objects import ImageInfo
from .refusals import refused, refusal
from .sdk import docker

SAVE_CHUNK = 1 << 20


class ImagesMixin:
    client: docker.DockerClient
    _configs: dict
    read: Callable

    def image(self, reference: str) -> ImageInfo:
        """The image `reference` names; NotOnEngine (a LayerlabError) when there is none."""
        if not reference or not str(reference).strip():
            raise LayerlabError(_("No image was named."),
                                _("Give an image name or id, e.g. `python -m layerlab layers IMAGE`."))
        raw = self.read("/images/{}/json", str(reference).strip())  # None: not a plain answer, ask the SDK
        if isinstance(raw, dict):
            return image_info(raw)
        try:
            raw = self.client.api.inspect_image(str(reference).strip())
        except docker.errors.ImageNotFound as error:
            raise refusal(error, _("There is no image {reference!r} on this engine.").format(reference=reference),
                          _("Build it first (run the cells above), or check the name with `docker images`.")) from None
        except docker.errors.APIError as error:
            what = _("The engine cannot read image {reference!r}: {reason}.").format(
                reference=reference, reason=error.explanation or error)
            raise refusal(error, what, _("Check the name (repository:tag, or an id).")) from None
        return image_info(raw)

    def image_id(self, reference: str) -> str:
        """The id of the image `reference` names, or "" when the engine has none."""
        try:
            return self.image(reference).id
        except NotOnEngine:
            return ""

    def image_config(self, image_id: str) -> dict:
        """The image's config (with history and empty_layer flags), read from `docker save`."""
        if image_id not in self._configs:
            stream = self.save_image(image_id)
            self._configs[image_id] = read_saved_image(stream).config
            for _chunk in stream:  # the archive's padding: read to the end so the answer is whole
                pass
        return self._configs[image_id]

    def remember_config(self, image_id: str, config: dict) -> None:
        """Keep a config read with a `docker save` made elsewhere (spares `image_config` one)."""
        self._configs.setdefault(image_id, config)

    def save_image(self, image_id: str, chunk_size: int = SAVE_CHUNK) -> Iterator[bytes]:
        """`docker save` of one image, as the engine streams it."""
        with refused():
            return self.client.api.get_image(image_id, chunk_size=chunk_size)

    def listed_size(self, reference: str) -> int:
        """The SIZE `docker images` prints for the image, in bytes (its list entry's `Size`).

        With overlay2 it equals the inspect `Size` (the layers unpacked). The containerd image
        store lists the unpacked snapshots plus the compressed layer blobs it keeps, while its
        inspect `Size` counts the blobs only; the list is what a learner sees."""
        image_id = self.image(reference).id
        with refused():
            for raw in self.client.api.images(filters={"reference": [str(reference).strip()]}) or []:
                if raw.get("Id") == image_id:
                    return int(raw.get("Size") or 0)
            for raw in self.client.api.images() or []:  # an id, or a name the filter does not match
                if raw.get("Id") == image_id:
                    return int(raw.get("Size") or 0)
        return self.image(image_id).size

    def repo_digests(self, reference: str) -> tuple[str, ...]:
        """The image's registry digests (`RepoDigests`): none for an image built here."""
        return self.image(reference).repo_digests

    def history(self, reference: str) -> list[HistoryRecord]:
        """`docker history`, newest first, as the API gives it."""
        image = self.image(reference)
        return [history_record(raw) for raw in self._raw_history(image.id)]

    def _raw_history(self, image_id: str) -> list[dict]:
        """`GET /images/{id}/history`, newest first: through the reader when it answers plainly."""
        raw = self.read("/images/{}/history", image_id)
        if isinstance(raw, list):
            return raw
        with refused():
            return self.client.api.history(image_id)

    def image_stack(self, reference: str, exact: bool = True) -> ImageStack:
        """The image as a stack of history entries matched to its layers.

        With `exact` (the default) the `empty_layer` flags come from the image's config, read
        from `docker save`; without it, the pairing is inferred from the history alone.
        """
        image = self.image(reference)
        history = self._raw_history(image.id)  # newest first
        flags: list[bool] | None = None
        if exact:
            config_history = self.image_config(image.id).get("history", [])
            if len(config_history) == len(history):
                flags = [bool(h.get("empty_layer", False)) for h in config_history]
        records = [
            history_record(raw, None if flags is None else flags[position])
            for position, raw in enumerate(reversed(history))
        ]
        return build_stack(image_id=image.id, tags=image.tags, history=records, diff_ids=list(image.diff_ids),
                           size=image.size)

    def remove_image(self, reference: str, prune: bool = True) -> None:
        """Remove one tag (or an untagged image by id); `prune` also removes untagged parents."""
        with refused():
            self.client.api.remove_image(reference, noprune=not prune)

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        with refused():
            self.client.api.tag(image_id, repository, tag)

    def import_image(self, tarball: str, repository: str, tag: str, changes: list[str]) -> str:
        """`docker import` of a root filesystem tar; the new image's id."""
        with refused():
            answer = self.client.api.import_image_from_file(tarball, repository=repository, tag=tag, changes=changes)
        if "error" in str(answer).lower() and "status" not in str(answer):
            raise LayerlabError(_("docker import failed: {answer}").format(answer=answer),
                                _("Delete the cached tar and run prepare again."))
        return self.image(f"{repository}:{tag}").id

    def pull(self, repository: str, tag: str) -> Iterator[Mapping]:
        """`docker pull`'s progress events (the one deliberate pull: `prepare`)."""
        with refused():
            yield from self.client.api.pull(repository, tag=tag, stream=True, decode=True)

    def push(self, repository: str, tag: str) -> Iterator[Mapping]:
        """`docker push`'s progress events (only to seed a course registry)."""
        with refused():
            yield from self.client.api.push(repository, tag=tag, stream=True, decode=True)


def image_info(raw: Mapping) -> ImageInfo:
    return ImageInfo(
        id=raw["Id"],
        tags=tuple(raw.get("RepoTags") or ()),
        repo_digests=tuple(raw.get("RepoDigests") or ()),
        diff_ids=tuple((raw.get("RootFS") or {}).get("Layers") or ()),
        size=int(raw.get("Size") or 0),
        config=raw.get("Config") or {},
    )


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
