"""Recordings of a real engine: what it answered to one lesson, and when.

A recording is one gzip-compressed JSON file per lesson, kept in the package
(`layerlab/recordings/<lesson>.json.gz`). It holds a header (the engine's facts, the date,
the learner id and a fingerprint of the lesson's inputs), every HTTP exchange in order
(the request's key and the response's raw bytes with their arrival times), and the output
of the few docker CLI commands a lesson runs (BuildKit builds), and the notes: values that
depend on the clock (how long a stop took, whether a time limit was reached), in the order
they were measured (see `notes.py`). Bodies are stored once, by content hash.

`docker save` answers are stored reduced: every layer keeps its file headers (names, kinds,
modes, sizes as a PAX field) but not the files' contents, so a 100 MB base image costs a
few hundred kB and the per-layer file index still reads the same.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 1
#: PAX field holding a file's real size in a reduced layer.
SIZE_FIELD = "LAYERLAB.size"
PACKAGE_RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"


@dataclass
class Exchange:
    key: str
    template: str
    method: str
    target: str
    status: int
    chunks: list[tuple[float, str]]  # (seconds after the request, blob id)
    until_close: bool = False


@dataclass
class CliRun:
    key: str
    returncode: int
    lines: list[tuple[float, str]]  # (seconds after start, stdout or stderr line)


@dataclass
class Recording:
    header: dict
    exchanges: list[Exchange] = field(default_factory=list)
    cli_runs: list[CliRun] = field(default_factory=list)
    notes: list[list] = field(default_factory=list)  # [name, JSON value], in the order kept
    blobs: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_blob(self, data: bytes) -> str:
        blob_id = hashlib.sha256(data).hexdigest()[:24]
        self.blobs.setdefault(blob_id, data)
        return blob_id

    def save(self, path: Path) -> None:
        with self.lock:
            document = {
                "format": FORMAT,
                "header": self.header,
                "exchanges": [e.__dict__ for e in self.exchanges],
                "cli_runs": [r.__dict__ for r in self.cli_runs],
                "notes": self.notes,
                "blobs": {k: base64.b64encode(v).decode() for k, v in self.blobs.items()},
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        # mtime=0: the same recording gives the same file
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            out.write(json.dumps(document, sort_keys=True).encode())
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Recording":
        with gzip.open(path, "rb") as handle:
            document = json.loads(handle.read())
        if document.get("format") != FORMAT:
            raise ValueError(f"{path}: recording format {document.get('format')} (expected {FORMAT})")
        return cls(
            header=document["header"],
            exchanges=[Exchange(**{**e, "chunks": [tuple(c) for c in e["chunks"]]}) for e in document["exchanges"]],
            cli_runs=[CliRun(**{**r, "lines": [tuple(line) for line in r["lines"]]}) for r in document["cli_runs"]],
            notes=[list(note) for note in document.get("notes", [])],
            blobs={k: base64.b64decode(v) for k, v in document["blobs"].items()},
        )


def recording_path(lesson: str, directory: Path | None = None) -> Path:
    return (directory or PACKAGE_RECORDINGS) / f"{lesson}.json.gz"


def reduce_saved_archive(data: bytes) -> bytes:
    """A `docker save` archive with every layer's file contents dropped (sizes kept)."""
    source = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    out_buffer = io.BytesIO()
    with tarfile.open(fileobj=out_buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in source:
            handle = source.extractfile(member) if member.isfile() else None
            if handle is None:
                out.addfile(member)
                continue
            content = handle.read()
            reduced = _reduce_layer(content)
            if reduced is not None:
                content = reduced
            info = tarfile.TarInfo(member.name)
            info.mode, info.mtime, info.type = member.mode, member.mtime, member.type
            info.size = len(content)
            out.addfile(info, io.BytesIO(content))
    return out_buffer.getvalue()


def _reduce_layer(content: bytes) -> bytes | None:
    """A layer tar (plain or gzip) with empty files carrying their sizes; None if not a layer."""
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except OSError:
            return None
    if content[:1] in (b"{", b"[") or len(content) < 512:
        return None
    try:
        layer = tarfile.open(fileobj=io.BytesIO(content), mode="r:")
        members = layer.getmembers()
    except tarfile.TarError:
        return None
    out_buffer = io.BytesIO()
    with tarfile.open(fileobj=out_buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in members:
            copy = tarfile.TarInfo(member.name)
            for attribute in ("mode", "uid", "gid", "uname", "gname", "mtime", "type", "linkname", "devmajor", "devminor"):
                setattr(copy, attribute, getattr(member, attribute))
            copy.pax_headers = dict(member.pax_headers)
            if member.isfile():
                copy.pax_headers[SIZE_FIELD] = str(member.size)
                copy.size = 0
            out.addfile(copy)
    return out_buffer.getvalue()


def real_size(member: tarfile.TarInfo) -> int:
    """A tar member's size, reading the reduced-recording field when present."""
    value = member.pax_headers.get(SIZE_FIELD)
    return int(value) if value is not None else member.size
