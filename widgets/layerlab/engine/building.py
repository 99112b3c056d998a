"""The engine door for the classic builder (the SDK's build) and the registry's answers."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterator, Mapping

if TYPE_CHECKING:  # imported where a build runs: a command that never builds (layers) skips them
    from ..core.buildstream import ClassicStreamParser
from ..core.errors import BuildFailed, LayerlabError
from ..core.i18n import _
from ..core.model import BuilderKind
from ..core.naming import COURSE_DOCKERFILE, Namespace, course_dockerignore, label_instruction
from .refusals import refused
from .sdk import docker

@dataclass(frozen=True)
class BuildEvent:
    """One message of the classic builder's stream: text, an error, or the image's id."""

    text: str = ""
    error: str = ""
    image_id: str = ""


def context_archive(context: Path | str, course_dockerfile: str | None = None) -> IO[bytes]:
    """The build context as the docker CLI sends it: the files `.dockerignore` lets through
    (the SDK's selection), every entry owned by 0:0 with no user or group name.

    The SDK keeps the files' own owners in the tar; the CLI does not. The classic builder's
    `COPY` checksum covers the owners the daemon sees, so without this a learner who is not
    root (or a rootless engine) would get another checksum, and another cache, for the same
    files.

    With `course_dockerfile`, that text is added as `COURSE_DOCKERFILE` and `.dockerignore`
    names it, as `docker build -f - .` does: the daemon reads it, then drops both from the
    context (a `.dockerignore` the learner wrote stays, with the one line added)."""
    import tempfile  # here: importing the door for a warm look never builds

    root = Path(context)
    ignore = root / ".dockerignore"
    exclude = None
    existing = ignore.read_text(encoding="utf-8") if ignore.exists() else None
    if existing is not None:
        lines = (line.strip() for line in existing.splitlines())
        exclude = [line for line in lines if line and not line.startswith("#")]
    # The SDK always keeps the Dockerfile it is told of; the learner's own follows their
    # .dockerignore when the course's Dockerfile is the one the daemon reads.
    named = (COURSE_DOCKERFILE, None) if course_dockerfile is not None else None
    with docker.utils.build.tar(str(root), exclude=exclude, dockerfile=named) as original:
        normalized = tempfile.TemporaryFile()
        with tarfile.open(fileobj=original, mode="r:") as source, tarfile.open(fileobj=normalized, mode="w:") as out:
            for member in source:
                if course_dockerfile is not None and member.name in (".dockerignore", COURSE_DOCKERFILE):
                    continue
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                out.addfile(member, source.extractfile(member) if member.isfile() else None)
            if course_dockerfile is not None:
                _add_text(out, ".dockerignore", course_dockerignore(existing), 0o644)
                _add_text(out, COURSE_DOCKERFILE, course_dockerfile, 0o600)
    normalized.seek(0)
    return normalized


def _add_text(out: tarfile.TarFile, name: str, text: str, mode: int) -> None:
    data = text.encode("utf-8")
    member = tarfile.TarInfo(name)
    member.size, member.mode, member.mtime = len(data), mode, 0
    out.addfile(member, io.BytesIO(data))


def labeled_dockerfile(context: Path | str, dockerfile: str, labels: Mapping[str, str]) -> str:
    """The learner's Dockerfile with the course's labels as one last `LABEL` instruction."""
    path = Path(context, dockerfile)
    if not path.is_file():
        raise LayerlabError(_("There is no {dockerfile} in the build context {context}.").format(
            dockerfile=dockerfile, context=context),
            _("Write the Dockerfile there, or name the one the build should use."))
    text = path.read_text(encoding="utf-8")
    return f"{text.rstrip()}\n{label_instruction(labels)}\n"


class BuildsMixin:
    client: docker.DockerClient

    def build_events(self, context: Path | str, tag: str, labels: Mapping[str, str], dockerfile: str = "Dockerfile",
                     nocache: bool = False, allow_network: bool = False) -> Iterator[BuildEvent]:
        """The classic builder's stream for one build: RUN steps get no network (unless
        `allow_network`), intermediate containers are removed also when the build fails.

        The labels go in as one `LABEL` instruction after the learner's Dockerfile (one history
        entry), not through the API's `labels`, which the daemon turns into one step per label."""
        with refused(), context_archive(context, labeled_dockerfile(context, dockerfile, labels)) as archive:
            for chunk in self.client.api.build(
                fileobj=archive, custom_context=True, dockerfile=COURSE_DOCKERFILE, tag=tag,
                network_mode=None if allow_network else "none", rm=True, forcerm=True, nocache=nocache, decode=True,
            ):
                if "error" in chunk:
                    yield BuildEvent(error=((chunk.get("errorDetail") or {}).get("message") or chunk["error"]).strip())
                elif "aux" in chunk and "ID" in (chunk["aux"] or {}):
                    yield BuildEvent(image_id=chunk["aux"]["ID"])
                elif chunk.get("stream"):
                    yield BuildEvent(text=chunk["stream"])

    def build(
        self,
        namespace: Namespace,
        name: str,
        context: Path,
        dockerfile: str = "Dockerfile",
        tag: str = "latest",
        on_line: Callable[[str], None] | None = None,
        nocache: bool = False,
        extra_labels: Mapping[str, str] | None = None,
        allow_network: bool = False,
        parser: ClassicStreamParser | None = None,
    ) -> str:
        """Build with the classic builder; the new image's id.

        Each line of the builder's stream goes to `parser` (the course's one reader of that
        stream; a fresh one when none is given), then to `on_line`. A failed build raises
        `BuildFailed`, after removing the untagged images of its finished steps (the course's
        labels come last, so nothing else would find them).
        """
        from ..core.build import BuildRecord, CacheStatus
        from ..core.buildstream import ClassicStreamParser

        reference = namespace.image(name, tag)
        labels = namespace.labels(**(extra_labels or {}))
        parser = parser or ClassicStreamParser(BuildRecord(builder=BuilderKind.CLASSIC))
        parser.course_steps = 1  # build_events adds the labels as one LABEL step
        image_id = None
        try:
            for event in self.build_events(context, reference, labels, dockerfile, nocache, allow_network):
                if event.error:
                    self._remove_untagged([s.made for s in parser.record.steps if s.made and s.status is CacheStatus.MISS])
                    where = _where(parser)
                    raise BuildFailed(
                        _stopped_at(parser, event.error),
                        _("Fix that step of the Dockerfile (or the file it needs) and build again."),
                        step=where, engine_message=event.error,
                    )
                image_id = event.image_id or image_id
                for line in event.text.splitlines():
                    if line.strip():
                        parser.feed_line(line)
                        if on_line:
                            on_line(parser.shown(line))
        except BuildFailed:
            raise
        except LayerlabError as error:
            said = getattr(error, "explanation", "") or error.what
            raise BuildFailed(
                _("The engine refused the build: {message}").format(message=said),
                _("Check the Dockerfile's syntax and that every file it names is in the build context."),
                step=_where(parser), engine_message=said,
            ) from None
        return image_id or self.image(reference).id

    def _remove_untagged(self, image_ids: list[str]) -> None:
        """A failed classic build leaves its finished steps' images, untagged and without the
        course's labels (those come last): remove them, newest first, so nothing is left behind."""
        for image_id in reversed(image_ids):
            try:
                if not self.image(image_id).tags:
                    self.remove_image(image_id, prune=False)
            except LayerlabError:
                pass  # a base image, or one another build still uses

    def registry_has(self, name: str, timeout: float) -> dict:
        """`GET /distribution/{name}/json`: the engine asks the registry about `name` (and
        DNS, when the registry is a name), waiting at most `timeout` s; its descriptor."""
        from .connection import work_client

        client = work_client(self.source.base_url, self.facts, self.environ, timeout=timeout)
        try:
            with refused():
                return client.api.inspect_distribution(name)
        finally:
            client.close()


def _where(parser: ClassicStreamParser) -> str:
    """The step the stream was at, as the classic builder numbers it ("step 3/5 (RUN make)")."""
    step = parser.current
    return f"step {step.builder_label} ({step.instruction})" if step is not None else ""


def _stopped_at(parser: ClassicStreamParser, error: str) -> str:
    """Where the build stopped and the engine's words, for the learner."""
    step = parser.current
    if step is None:
        return _("The build stopped at the start: {error}").format(error=error)
    return _("The build stopped at step {label} ({instruction}): {error}").format(
        label=step.builder_label, instruction=step.instruction, error=error)
