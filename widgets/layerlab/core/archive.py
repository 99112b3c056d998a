"""Reading `docker save` archives, in the three formats engines write.

- Docker 20.10 and older: `manifest.json`, `<id>.json` (the config), `<id>/layer.tar`.
- Docker 25 and newer: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`),
  usually with a compatible `manifest.json` beside it.
- The containerd image store: the OCI layout, with gzip-compressed layers and an index that
  may point to another index (one entry per platform).

The archive is read as a stream (core.tarstream), so a large image is never held in
memory or on disk: small JSON documents are kept, large blobs are skipped unless a layer
reader is given.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import IO, Callable, Iterable

from .tarstream import ChunkStream, TarError, tar_members

SMALL_DOCUMENT = 4 * 1024 * 1024
OCI_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


class ArchiveError(ValueError):
    """The archive is not a `docker save` archive this reader understands."""


@dataclass
class SavedImage:
    """What an archive says about one image: its config and where each layer's blob is."""

    format: str
    config: dict
    layer_paths: list[str]
    repo_tags: list[str] = field(default_factory=list)

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids", []))

    @property
    def history(self) -> list[dict]:
        return list(self.config.get("history", []))


LayerReader = Callable[[str, IO[bytes]], None]


def read_saved_image(
    stream: IO[bytes] | Iterable[bytes],
    layer_reader: LayerReader | None = None,
    image_index: int = 0,
) -> SavedImage:
    """Read one image's config (and optionally its layers) from a `docker save` stream.

    `layer_reader(path, fileobj)` is called for every member that is not a small JSON
    document, in archive order, while the stream passes; it decides itself whether the
    member is a layer (by path, once the manifest is known, or by sniffing).
    """
    fileobj = stream if hasattr(stream, "read") else ChunkStream(stream)
    documents: dict[str, bytes] = {}
    try:
        for member in tar_members(fileobj):  # type: ignore[arg-type]
            if not member.is_regular:
                continue  # directories; the legacy format's links from a repeated layer to the first
            name = member.name[2:] if member.name.startswith("./") else member.name
            small = member.size <= SMALL_DOCUMENT
            if small and (_maybe_json(name) or name.startswith("blobs/")):
                data = member.data.read()
                if _maybe_json(name) or data[:1] == b"{":
                    documents[name] = data
                elif layer_reader is not None:
                    layer_reader(name, io.BytesIO(data))
            elif layer_reader is not None:
                layer_reader(name, member.data)
    except TarError as error:
        raise ArchiveError(f"not a readable tar archive ({error})") from None
    return parse_documents(documents, image_index)


def parse_documents(documents: dict[str, bytes], image_index: int = 0) -> SavedImage:
    """Find the config and layer paths among an archive's small documents."""
    if "manifest.json" in documents:
        manifest = json.loads(documents["manifest.json"])
        if not manifest:
            raise ArchiveError("manifest.json lists no image")
        entry = manifest[image_index]
        config_path = entry["Config"]
        if config_path not in documents:
            raise ArchiveError(f"config {config_path} missing from the archive")
        fmt = "oci" if "index.json" in documents or config_path.startswith("blobs/") else "docker-legacy"
        return SavedImage(
            format=fmt,
            config=json.loads(documents[config_path]),
            layer_paths=list(entry.get("Layers", [])),
            repo_tags=list(entry.get("RepoTags") or []),
        )
    if "index.json" in documents:
        return _from_oci_index(documents, image_index)
    raise ArchiveError("neither manifest.json nor index.json found: not a docker save archive")


def _from_oci_index(documents: dict[str, bytes], image_index: int) -> SavedImage:
    index = json.loads(documents["index.json"])
    manifests = index.get("manifests", [])
    if not manifests:
        raise ArchiveError("index.json lists no image")
    descriptor = manifests[image_index]
    tags = []
    ref = descriptor.get("annotations", {}).get("io.containerd.image.name") or descriptor.get(
        "annotations", {}
    ).get("org.opencontainers.image.ref.name")
    if ref:
        tags.append(ref)
    nested = 0
    while descriptor.get("mediaType") in OCI_INDEX_TYPES:
        nested += 1
        inner = json.loads(_blob(documents, descriptor["digest"]))
        candidates = [m for m in inner.get("manifests", []) if _is_usable_platform(m)]
        if not candidates:
            raise ArchiveError("the image index names no manifest for a usable platform")
        descriptor = candidates[0]
        if nested > 4:
            raise ArchiveError("image indexes nested too deeply")
    manifest = json.loads(_blob(documents, descriptor["digest"]))
    config = json.loads(_blob(documents, manifest["config"]["digest"]))
    layers = [_blob_path(layer["digest"]) for layer in manifest.get("layers", [])]
    return SavedImage(format="oci-index" if nested else "oci", config=config, layer_paths=layers, repo_tags=tags)


def _is_usable_platform(descriptor: dict) -> bool:
    platform = descriptor.get("platform") or {}
    # Attestation manifests are stored as platform unknown/unknown.
    return platform.get("os", "linux") != "unknown"


def _blob_path(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"blobs/{algorithm}/{value}"


def _blob(documents: dict[str, bytes], digest: str) -> bytes:
    path = _blob_path(digest)
    if path not in documents:
        raise ArchiveError(f"blob {digest} missing from the archive")
    return documents[path]


def _maybe_json(name: str) -> bool:
    return name.endswith(".json") or name in {"manifest.json", "index.json", "repositories", "oci-layout"}
