"""Lesson 04: the seed's Dockerfile instructions, one small build each, and what each one's layer must hold.

The build context comes from `layerlab/lessons/instructions/context/` (conf/ with a nested
folder, two .js files, a README, source/ which is packed into `source.tar`, `source.tar.gz`
and `source.zip`, and two files
that `.dockerignore` keeps out). `lessons/instructions/release/` is packed into
`release.tar`, which the lesson serves on 127.0.0.1 for `ADD <url>`.

Each `Demo` is `FROM <base>` plus the instruction itself, so the image's top layer is
exactly what that instruction made. `expect_present` and `expect_absent` say what that
layer must and must not hold: the tests check them on a live engine, the notebook shows them.

The demo data and the files are pure (they write files and tars only); `run_demo` and the
`show_*` walkthroughs build on the lesson's engine, and `serve_for_engine` is the HTTP server
`ADD <url>` downloads from, on whichever loopback the engine's daemon has (see
`layerlab.engine.fileserve`). Where no server of ours can be reached (a remote engine),
`show_instruction` shows the answer the lesson's recording holds, and says so.
"""

from __future__ import annotations

import gzip
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import LayerlabError
from ..core.i18n import N_, _
from ..core.model import BuilderKind, ChangeKind, human_size
from ..core.naming import Namespace
from ..engine.engine import Engine
from ..engine.fileserve import Served, serve_for_engine
from ..core.questions import ARCHIVES, answer_archives
from ..core.text import tr
from .builds import build, check, classic_build, step_files

if TYPE_CHECKING:  # annotations only: no import at run time
    from .lesson import Lesson

__all__ = [
    "ARCHIVES", "BuilderKind", "Served", "answer_archives", "check_every_demo", "serve_for_engine", "show_from",
    "show_instruction", "source_tar", "tar_listing", "write_release",
]

#: It lists itself too, as many projects' do: the builder reads it, and it is not copied.
DOCKERIGNORE = "# Never sent to the builder:\nsecret.env\nNOTES.md\n.dockerignore\n"


@dataclass(frozen=True)
class Demo:
    key: str
    title: str  # marked with N_(), shown through tr()
    instruction: str  # with {url} for ADD <url>
    seed: str  # how the seed wrote it
    expect_present: tuple[str, ...] = ()
    expect_absent: tuple[str, ...] = ()
    dockerignore: bool = False
    needs_url: bool = False

    def dockerfile(self, base: str, url: str = "") -> str:
        if self.needs_url and not url:
            raise LayerlabError(_("{key} needs the URL of the lesson's file server.").format(key=self.key),
                                _("Start it with serve_release()."))
        return f"FROM {base}\n{self.instruction.format(url=url)}\n"


DEMOS: dict[str, Demo] = {
    d.key: d
    for d in (
        Demo("run-mkdir", N_("RUN: a shell command"), "RUN mkdir -p /app", "RUN mkdir -p /app",
             expect_present=("/app",)),
        Demo("add-tar", N_("ADD a local tar: unpacked"), "ADD source.tar /app/", "ADD source.tar /app/",
             expect_present=("/app/hello.txt", "/app/lib/version.txt"), expect_absent=("/app/source.tar",)),
        Demo("copy-tar", N_("COPY the same tar: not unpacked"), "COPY source.tar /app/", "(COPY, for comparison)",
             expect_present=("/app/source.tar",), expect_absent=("/app/hello.txt", "/app/lib/version.txt")),
        Demo("add-tar-gz", N_("ADD a gzip-compressed tar: unpacked too"), "ADD source.tar.gz /app/",
             "(gzip, bzip2 and xz tars, recognised by their contents)",
             expect_present=("/app/hello.txt", "/app/lib/version.txt"), expect_absent=("/app/source.tar.gz",)),
        Demo("add-zip", N_("ADD a zip: never unpacked"), "ADD source.zip /app/", "(a zip is not a tar)",
             expect_present=("/app/source.zip",), expect_absent=("/app/hello.txt", "/app/lib/version.txt")),
        Demo("add-url", N_("ADD a URL: downloaded, never unpacked"), "ADD {url}/release.tar /data/",
             "ADD http://ahnseungkyu.com/release /data/",
             expect_present=("/data/release.tar",), expect_absent=("/data/VERSION", "/data/RELEASE-NOTES.txt"),
             needs_url=True),
        Demo("copy-all", N_("COPY . : the whole build context"), "COPY . /app", "COPY . /app",
             expect_present=("/app/Dockerfile", "/app/README.md", "/app/main.js", "/app/util.js", "/app/conf/app.conf",
                             "/app/conf/nested/level.conf", "/app/source.tar", "/app/secret.env", "/app/NOTES.md")),
        Demo("copy-dir", N_("COPY a directory: its contents, into the target"), "COPY ./conf /app/conf", "COPY ./conf /app/conf",
             expect_present=("/app/conf/app.conf", "/app/conf/nested/level.conf"), expect_absent=("/app/conf/conf",)),
        Demo("copy-dir-surprise", N_("COPY a directory to /app/: the directory itself is not copied"), "COPY ./conf /app/",
             "(the classic surprise)", expect_present=("/app/app.conf", "/app/nested/level.conf"),
             expect_absent=("/app/conf", "/app/conf/app.conf")),
        Demo("copy-glob", N_("COPY a glob: only the matching files"), "COPY ./*.js /app/", "COPY ./*.js /app/",
             expect_present=("/app/main.js", "/app/util.js"), expect_absent=("/app/README.md", "/app/conf")),
        Demo("dockerignore", N_("COPY . with a .dockerignore"), "COPY . /app", "(.dockerignore)",
             expect_present=("/app/README.md", "/app/main.js", "/app/conf/app.conf"),
             expect_absent=("/app/secret.env", "/app/NOTES.md", "/app/.dockerignore"), dockerignore=True),
    )
}


def demo(key: str) -> Demo:
    try:
        return DEMOS[key]
    except KeyError:
        raise LayerlabError(_("There is no instruction demo {key}.").format(key=repr(key)),
                            _("Choose one of: {keys}.").format(keys=", ".join(DEMOS))) from None


def fixtures_dir() -> Path:
    return Path(str(resources.files("layerlab"))) / "lessons" / "instructions"


def pack_tar(folder: Path, target: Path) -> Path:
    """A reproducible tar of `folder`'s contents (sorted, owner root, fixed times)."""
    with tarfile.open(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 1_500_000_000
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return target


def pack_tar_gz(folder: Path, target: Path) -> Path:
    """The same tar, gzip-compressed, byte for byte reproducible (no name or time in the header)."""
    plain = target.with_name(target.name + ".partial")
    pack_tar(folder, plain)
    with plain.open("rb") as source, target.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
            shutil.copyfileobj(source, packed)
    plain.unlink()
    return target


def pack_zip(folder: Path, target: Path) -> Path:
    """The same files as a zip archive, reproducible (sorted, fixed times)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            name = str(path.relative_to(folder)) + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(name, date_time=(2017, 7, 14, 2, 40, 0))
            info.external_attr = ((0o755 | 0o040000) if path.is_dir() else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, b"" if path.is_dir() else path.read_bytes())
    return target


def write_context(folder: Path, demo_: Demo, base: str, url: str = "") -> str:
    """The lesson's build context for one demo; returns the Dockerfile it wrote."""
    folder = Path(folder)
    source = fixtures_dir() / "context"
    for path in sorted(source.rglob("*")):
        if path.is_file() and "source" not in path.relative_to(source).parts:
            target = folder / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    pack_tar(source / "source", folder / "source.tar")
    pack_tar_gz(source / "source", folder / "source.tar.gz")
    pack_zip(source / "source", folder / "source.zip")
    ignore = folder / ".dockerignore"
    if demo_.dockerignore:
        ignore.write_text(DOCKERIGNORE, encoding="utf-8")
    elif ignore.exists():
        ignore.unlink()
    dockerfile = demo_.dockerfile(base, url)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    return dockerfile


def write_release(folder: Path) -> Path:
    """The file the lesson serves for `ADD <url>`: a tar, to show that ADD does not unpack it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return pack_tar(fixtures_dir() / "release", folder / "release.tar")


def tar_listing(path: Path) -> list[str]:
    with tarfile.open(path) as archive:
        return sorted(m.name + ("/" if m.isdir() else "") for m in archive.getmembers())


@dataclass(frozen=True)
class DemoResult:
    """One demo built: the instruction's layer, what it must hold, and whether it does."""

    demo: Demo
    builder: str
    dockerfile: str
    changes: tuple[tuple[str, str, bool, int], ...]  # (A/C/D, path, is a directory, size)
    paths: tuple[str, ...]  # every path the instruction's layer added or changed
    missing: tuple[str, ...]  # expected but absent
    unexpected: tuple[str, ...]  # present but expected absent
    modes: tuple[tuple[str, str], ...] = ()  # (path, octal mode) read in a container
    recorded_on: str = ""  # set when this is the recording's answer, not this engine's: which engine, when

    def to_dict(self) -> dict:
        return {"demo": self.demo.key, "builder": self.builder, "dockerfile": self.dockerfile,
                "changes": [list(c) for c in self.changes], "paths": list(self.paths),
                "missing": list(self.missing), "unexpected": list(self.unexpected),
                "modes": [list(m) for m in self.modes]}

    @classmethod
    def from_dict(cls, data, recorded_on: str = "") -> "DemoResult":
        return cls(demo=demo(data["demo"]), builder=data["builder"], dockerfile=data["dockerfile"],
                   changes=tuple(tuple(c) for c in data["changes"]), paths=tuple(data["paths"]),
                   missing=tuple(data["missing"]), unexpected=tuple(data["unexpected"]),
                   modes=tuple(tuple(m) for m in data["modes"]), recorded_on=recorded_on)

    @property
    def as_expected(self) -> bool:
        return not self.missing and not self.unexpected

    @property
    def instruction(self) -> str:
        """The instruction as built (the URL of `ADD <url>` filled in)."""
        return self.dockerfile.splitlines()[-1]

    def verdict(self, builder_name: str) -> str:
        """One line: which builder, which demo (two demos may share an instruction), the
        instruction as built, and whether its layer held what it must."""
        outcome = _("as expected") if self.as_expected else self._not_as_expected()
        return f"{builder_name}, {tr(self.demo.title)} (`{self.instruction}`): {outcome}"

    def _not_as_expected(self) -> str:
        return _("NOT as expected: missing {missing}, unexpected {unexpected}").format(
            missing=list(self.missing), unexpected=list(self.unexpected))

    def summary(self) -> str:
        lines = [tr(self.demo.title)]
        if self.recorded_on:
            lines.append("  " + _("(not built on your engine: the answer recorded {recorded_on})").format(
                recorded_on=self.recorded_on))
        lines.append("  " + _("the layer of `{instruction}` holds:").format(instruction=self.instruction))
        for letter, path, is_dir, size in self.changes:
            if is_dir and letter == "C":
                continue  # a parent directory, repeated in every layer tar
            shown = f"{path}/" if is_dir else path
            # The Dockerfile names the learner's base, so its size differs per learner.
            extra = "" if is_dir or path.endswith("/Dockerfile") else f" ({human_size(size)})"
            lines.append(f"  {letter} {shown}{extra}")
        for path, mode in self.modes:
            lines.append("  " + _("mode of {path}: {mode}").format(path=path, mode=mode))
        if self.as_expected:
            checks = [_("has {path}").format(path=p) for p in self.demo.expect_present]
            checks += [_("no {path}").format(path=p) for p in self.demo.expect_absent]
            lines.append("  " + _("as expected: {checks}").format(checks=", ".join(checks)))
        else:
            lines.append("  " + self._not_as_expected())
        return "\n".join(lines)


def check_paths(demo_: Demo, paths) -> tuple[tuple[str, ...], tuple[str, ...]]:
    present = set(paths)
    missing = tuple(p for p in demo_.expect_present if p not in present)
    unexpected = tuple(p for p in demo_.expect_absent if p in present)
    return missing, unexpected


def source_tar(folder: Path) -> Path:
    """The lesson's `source.tar`, packed into `folder` (as `write_context` packs it)."""
    return pack_tar(fixtures_dir() / "context" / "source", Path(folder) / "source.tar")


# -- the instructions lesson: ADD <url> from loopback, and one build per instruction ---------

def run_demo(engine: Engine, namespace: Namespace, key: str, folder: Path, base: str, url: str = "",
             builder: BuilderKind = BuilderKind.CLASSIC, modes_of: tuple[str, ...] = ()):
    """Build `FROM base` + one instruction and read what that instruction's layer holds."""
    chosen = demo(key)
    dockerfile = write_context(Path(folder), chosen, base, url)
    record = build(engine, builder, namespace, key, Path(folder))
    check(record)
    step = record.lesson_steps[-1]
    files = step_files(engine, record, step.index)
    paths = tuple(c.path for c in files.changes if c.kind is not ChangeKind.DELETED)
    changes = tuple(
        (c.kind.letter, c.path, c.type.value == "directory", c.size) for c in files.changes
    )
    missing, unexpected = check_paths(chosen, paths)
    modes = []
    for path in modes_of:
        modes.append((path, _mode_in_container(engine, namespace, record.image_id, path)))
    return DemoResult(
        demo=chosen, builder=record.builder.value, dockerfile=dockerfile,
        changes=changes, paths=paths, missing=missing, unexpected=unexpected,
        modes=tuple(modes),
    )


def _mode_in_container(engine: Engine, namespace: Namespace, image: str, path: str) -> str:
    """`stat -c %a PATH` in a container of the image (no network; removed right away)."""
    box = engine.run(namespace, "stat", image, ["stat", "-c", "%a", path])
    try:
        box.wait(timeout=60)
        return box.logs().strip()
    finally:
        box.remove()


def show_instruction(lesson: Lesson, key: str, base, url: "str | Served" = "",
                     builder: BuilderKind = BuilderKind.CLASSIC, modes_of: tuple[str, ...] = ()):
    """A notebook's one call: build the demo `key` in a fresh folder of the lesson; a DemoResult.

    A demo that needs a URL and has none (the engine cannot reach any server of ours) is the
    answer the lesson's recording holds, marked as such. Every URL demo built live is kept in
    the recording under `demo-result:<key>`, for that case."""
    url = url.url if isinstance(url, Served) else url
    note = f"demo-result:{key}:{builder.name.lower()}"
    if demo(key).needs_url and not url:
        return recorded_demo(lesson.id, note)
    reference = getattr(base, "reference", base)
    result = run_demo(lesson.engine, lesson.namespace, key, lesson.context(f"{key}-{builder.name.lower()}"),
                      reference, url=url, builder=builder, modes_of=modes_of)
    if demo(key).needs_url:
        lesson.engine.notes.value(note, result.to_dict())  # kept when recording; a replay takes its own
    return result


def recorded_demo(lesson_id: str, note: str) -> DemoResult:
    """The demo result a lesson's recording kept under `note` (the first one)."""
    from ..core.engineinfo import EngineFacts
    from ..replay import recording_path
    from ..replay.store import Recording

    path = recording_path(lesson_id)
    try:
        recording = Recording.load(path)
    except OSError:
        recording = None
    found = [value for name, value in (recording.notes if recording else []) if name == note]
    if not found:
        raise LayerlabError(
            _("Your engine cannot reach any server of the course (it is on another machine), and the lesson's "
              "recording ({recording}) holds no answer for this step.").format(recording=path.name),
            _("Run this lesson on an engine on your own machine, or from its recording "
              "(LAYERLAB_SOURCE=replay)."),
        )
    facts = EngineFacts.from_dict(recording.header["facts"])
    return DemoResult.from_dict(found[0], recorded_on=_("on Docker {version} ({flavour}), {recorded_at}").format(
        version=facts.engine_version, flavour=facts.flavour, recorded_at=recording.header.get("recorded_at", "?")))


def show_from(lesson: Lesson, base) -> str:
    """`FROM name:tag` alone: the new image is the base's layers, nothing more."""
    reference = getattr(base, "reference", base)
    folder = lesson.context("from")
    (folder / "Dockerfile").write_text(f"FROM {reference}\n", encoding="utf-8")
    record = check(classic_build(lesson.engine, lesson.namespace, "from", folder))
    repository, tag = reference.rsplit(":", 1)
    mine = lesson.engine.image(record.image_id).diff_ids
    theirs = lesson.engine.image(reference).diff_ids
    return "\n".join([
        f"FROM {reference}",
        "  " + _("repository {repository}, tag {tag}").format(repository=repository, tag=tag),
        "  " + _("the new image has {count} layer(s), the very ones of the base: {same}").format(
            count=len(mine), same=mine == theirs),
    ])


def check_every_demo(lesson: Lesson, base, release_folder: Path, builder: BuilderKind) -> list:
    """Every instruction demo with one builder (ADD <url> served on the engine's loopback meanwhile)."""
    results = []
    with serve_for_engine(lesson.engine, release_folder) as served:
        for key, chosen in DEMOS.items():
            results.append(show_instruction(lesson, key, base, url=served if chosen.needs_url else "", builder=builder))
    return results
