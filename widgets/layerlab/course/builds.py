"""Builds with both builders, watched step by step: the classic builder and BuildKit.

- `classic_build` drives the classic builder through the docker SDK (`Engine.build`, which
  labels the image, names it for the learner, gives RUN steps no network and removes
  intermediate containers, also when the build fails).
- `buildkit_build` drives BuildKit through the CLI, as the SDK cannot speak it:
  `docker buildx build --network=none --progress=rawjson --label ... -t NAME CONTEXT`.
  With buildx's `docker` driver (the default builder of a plain engine) the image goes
  straight into the engine's image store: no `--load` is needed. BuildKit runs RUN steps in
  containers of its own inside the daemon, which `docker ps -a` never lists.

Both return a `BuildRecord` (see `core.build`), filled in while the build runs: pass
`on_update(record)` to redraw a view after each change. A failed build is a record with a
`failure`, not an exception (the view shows it); `check(record)` raises the course's short
`BuildFailed` when a failure should stop a lesson.
Used by lessons 03 (the build cache) and 04 (the instructions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..core.build import attach_layers, BuildRecord
from ..core.buildstream import BuildKitStreamParser, ClassicStreamParser
from ..core.dockerfile import parse_dockerfile
from ..core.errors import BuildFailed, LayerlabError
from ..core.i18n import _
from ..core.model import BuilderKind, InconsistentImage
from ..core.naming import Namespace
from ..core.workspace import build_context
from ..engine.engine import Engine
from ..engine.layers import image_files

OnUpdate = Callable[[BuildRecord], None]
BUILDKIT_TIMEOUT = 900


def available_builders(engine: Engine) -> list[BuilderKind]:
    """The classic builder always; BuildKit where the engine has `docker buildx`."""
    return [BuilderKind.CLASSIC] + ([BuilderKind.BUILDKIT] if engine.facts.buildkit else [])


def build(engine: Engine, builder: BuilderKind, namespace: Namespace, name: str, context: Path, **kwargs) -> BuildRecord:
    """Build with one builder (see `classic_build` and `buildkit_build`)."""
    if builder is BuilderKind.CLASSIC:
        return classic_build(engine, namespace, name, context, **kwargs)
    return buildkit_build(engine, namespace, name, context, **kwargs)


def _read_dockerfile(context: Path, dockerfile: str) -> str:
    path = build_context(context) / dockerfile
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LayerlabError(_("There is no {dockerfile} in {context}.").format(dockerfile=dockerfile, context=context),
                            _("Write the Dockerfile first (run the cells above).")) from None


def classic_build(
    engine: Engine,
    namespace: Namespace,
    name: str,
    context: Path,
    dockerfile: str = "Dockerfile",
    tag: str = "classic",
    nocache: bool = False,
    on_update: OnUpdate | None = None,
    title: str = "",
) -> BuildRecord:
    """Build with the classic builder; every step's cache status, id and time are recorded."""
    text = _read_dockerfile(context, dockerfile)
    reference = namespace.image(name, tag)
    record = BuildRecord.for_dockerfile(BuilderKind.CLASSIC, text, reference=reference, title=title or reference)
    parser = ClassicStreamParser(record)
    notify = on_update or (lambda r: None)
    notify(record)

    try:
        image_id = engine.build(namespace, name, Path(context), dockerfile=dockerfile, tag=tag, nocache=nocache,
                                parser=parser, on_line=lambda line: notify(record))
    except BuildFailed as failed:
        parser.fail(failed.engine_message or failed.what)  # the engine removed the failed build's images
    else:
        parser.finish(image_id)
        _attach(engine, record, text)
    finally:
        _remove_leftover_containers(engine, record)
    notify(record)
    return record


def _remove_leftover_containers(engine: Engine, record: BuildRecord) -> None:
    """Intermediate containers this build ran steps in (their ids came in its stream).

    The engine removes them itself (`forcerm`); this only makes sure, and touches nothing
    but containers this very build reported creating.
    """
    for step in record.steps:
        if step.container:
            engine.remove_container(step.container)


def buildkit_build(
    engine: Engine,
    namespace: Namespace,
    name: str,
    context: Path,
    dockerfile: str = "Dockerfile",
    tag: str = "buildkit",
    nocache: bool = False,
    on_update: OnUpdate | None = None,
    title: str = "",
) -> BuildRecord:
    """Build with BuildKit (`docker buildx build`), reading its rawjson progress as it comes."""
    if not engine.facts.buildkit:
        raise LayerlabError(
            _("This engine (Docker {version}) has no BuildKit CLI (`docker buildx`).").format(
                version=engine.facts.engine_version),
            _("Use the classic builder here, or an engine with docker-buildx (e.g. `bash scripts/engine.sh env docker-26`)."),
        )
    text = _read_dockerfile(context, dockerfile)
    reference = namespace.image(name, tag)
    record = BuildRecord.for_dockerfile(BuilderKind.BUILDKIT, text, reference=reference, title=title or reference)
    parser = BuildKitStreamParser(record)
    notify = on_update or (lambda r: None)
    notify(record)
    command = [
        "buildx", "build",
        "--network=none", "--progress=rawjson",
        "-t", reference,
        "-f", str(Path(context) / dockerfile),
    ]
    for key, value in namespace.labels().items():
        command += ["--label", f"{key}={value}"]
    if nocache:
        command.append("--no-cache")
    command.append(str(context))

    def feed(line: str) -> None:
        if parser.feed_line(line + "\n"):
            notify(record)

    # Through clirun: live it runs `docker buildx`; recorded, it is kept; in replay it plays back.
    result = engine.run_docker(command, on_line=feed, timeout=BUILDKIT_TIMEOUT,
                               extra_env={"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"})
    returncode = result.returncode
    image_id = None
    if returncode == 0:
        # The tag's id (with the containerd store, an --iidfile would name the manifest instead).
        image_id = engine.image_id(reference) or None
    parser.finish(returncode, image_id)
    if record.ok:
        _attach(engine, record, text)
    notify(record)
    return record


def _attach(engine: Engine, record: BuildRecord, dockerfile: str) -> None:
    """Fill in the layer each step made, from the new image's history."""
    if not record.image_id:
        return
    try:
        stack = engine.image_stack(record.image_id, exact=False)
        base = _from_image(dockerfile)
        base_entries = 0 if base in (None, "scratch") else len(engine.image_stack(base, exact=False).entries)
    except (LayerlabError, InconsistentImage):
        return
    attach_layers(record, stack.entries, base_entries)


def _from_image(dockerfile: str) -> str | None:
    for instruction in parse_dockerfile(dockerfile):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.text.split()[1:] if not w.startswith("--")]
            return words[0] if words else None
    return None


def check(record: BuildRecord) -> BuildRecord:
    """Raise the course's short `BuildFailed` when the build failed; else return the record."""
    if record.failure is None:
        return record
    failure = record.failure
    raise BuildFailed(
        f"{record.builder.value}: {failure.headline()} {failure.message}",
        failure.fix(),
        step=failure.instruction,
        engine_message=failure.message,
    )


def step_files(engine: Engine, record: BuildRecord, index: int):
    """The files the layer of step `index` holds (`core.filetree.LayerFiles`).

    One small wrapper around the file index of `engine.layers`, so that lessons ask by step.
    """
    if not record.ok or not record.image_id:
        raise LayerlabError(_("This build did not finish, so its layers cannot be read."), _("Fix the build first."))
    step = record.step(index)
    if not step.makes_layer or not step.layer:
        raise LayerlabError(
            _("Step {index} ({instruction}) made no filesystem layer.").format(index=index, instruction=step.instruction),
            _("Only RUN, COPY, ADD (and a WORKDIR that creates its folder) make layers."),
        )
    return image_files(engine, record.image_id).layer(step.layer)


def containers_of(engine: Engine, record: BuildRecord) -> list[str]:
    """Containers that still exist among those this build ran steps in (should be none)."""
    return [step.container for step in record.steps if step.container and engine.container_exists(step.container)]
