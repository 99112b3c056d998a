"""`cleanup`: remove exactly what the course made for this learner, and nothing else.

Objects are found by their labels (course, learner, and lesson when given) and removed in
dependency order: containers, then images (lesson images before bases, newest first), then
volumes and networks, then the lesson folders on disk. No prune, no removal by name pattern:
an object without the course's labels is never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from ..core.errors import EngineRefused, NotOnEngine
from ..core.i18n import N_, _
from ..core.naming import BASE_LESSON, LABEL_LESSON, Namespace, is_ours, learner_filters
from ..core.objects import Labeled
from ..core.workspace import our_lesson_dirs
from .engine import Engine

#: One line per kind of object (the kinds are the report's English keys).
_REMOVED = {
    "container": N_("removed container {name}"),
    "image": N_("removed image {name}"),
    "volume": N_("removed volume {name}"),
    "network": N_("removed network {name}"),
    "folder": N_("removed folder {name}"),
}
_KEPT = {
    "container": N_("kept container {name}: {why}"),
    "image": N_("kept image {name}: {why}"),
    "volume": N_("kept volume {name}: {why}"),
    "network": N_("kept network {name}: {why}"),
}


@dataclass
class CleanupReport:
    removed: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [_(_REMOVED[kind]).format(name=name) if kind in _REMOVED else f"removed {kind} {name}"
               for kind, name in self.removed]
        out += self.kept_lines()
        if not out:
            out.append(_("nothing to remove: the course has no objects of yours here"))
        return out

    def kept_lines(self) -> list[str]:
        return [_(_KEPT[kind]).format(name=name, why=why) if kind in _KEPT else f"kept {kind} {name}: {why}"
                for kind, name, why in self.kept]


def cleanup(engine: Engine, lesson: str | None = None, include_bases: bool = False) -> CleanupReport:
    """Remove this learner's objects of one lesson, of every lesson, or (with bases) all."""
    namespace = Namespace.for_lesson(BASE_LESSON, engine.environ)
    learner = namespace.learner
    filters = learner_filters(learner)
    report = CleanupReport()

    def wanted(labels) -> bool:
        if not is_ours(labels, learner, lesson):
            return False
        is_base = (labels or {}).get(LABEL_LESSON) == BASE_LESSON
        return include_bases or not is_base or lesson == BASE_LESSON

    for container in engine.labeled("containers", filters):
        # Containers inherit their image's labels: one a learner started by hand from a course
        # image has them too. The course's own also have a name in the learner's namespace.
        if wanted(container.labels) and container.name.startswith(namespace.container_prefix):
            if engine.remove_container(container.id):
                report.removed.append(("container", container.name))
            else:
                report.kept.append(("container", container.name, _("the engine would not remove it")))

    prefix = namespace.repository_prefix
    seen: set[str] = set()
    # Removing an image can uncover its untagged parent, which then lists as a top-level image
    # of its own (the containerd store shows a classic build's steps so): repeat until none is new.
    for _round in range(50):
        images = [image for image in engine.labeled("images", filters) if wanted(image.labels) and image.id not in seen]
        if not images:
            break
        images.sort(key=lambda image: ((image.labels or {}).get(LABEL_LESSON) == BASE_LESSON, -image.created))
        for image in images:
            seen.add(image.id)
            _remove_image(engine, image, prefix, report)

    for volume in engine.labeled("volumes", filters):
        if wanted(volume.labels):
            try:
                engine.remove_labeled(volume)
                report.removed.append(("volume", volume.name))
            except EngineRefused as refused:
                report.kept.append(("volume", volume.name, refused.explanation or refused.what))

    for network in engine.labeled("networks", filters):
        if wanted(network.labels):
            try:
                engine.remove_labeled(network)
                report.removed.append(("network", network.name))
            except EngineRefused as refused:
                report.kept.append(("network", network.name, refused.explanation or refused.what))

    for folder in our_lesson_dirs(learner, lesson, engine.environ):
        if folder.name == BASE_LESSON and not (include_bases or lesson == BASE_LESSON):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        report.removed.append(("folder", str(folder)))
    return report


def _remove_image(engine: Engine, image: Labeled, prefix: str, report: CleanupReport) -> None:
    """Remove our tags of an image; an untagged labeled image is removed by id.

    Tags outside the learner's namespace (someone tagged our image with a name of their own)
    are left alone, and so is the image they keep alive.
    """
    try:
        tags = engine.image(image.id).tags  # as they are now: removing a child can change them
    except NotOnEngine:
        return  # went with a child removed before it
    ours = [tag for tag in tags if tag.startswith(prefix)]
    foreign = [tag for tag in tags if not tag.startswith(prefix)]
    targets = ours if tags else [image.id]
    for target in targets:
        try:
            engine.remove_image(target)
            report.removed.append(("image", target if target != image.id else image.short_id))
        except NotOnEngine:
            pass
        except EngineRefused as refused:
            report.kept.append(("image", target, refused.explanation or refused.what))
    if foreign:
        report.kept.append(("image", image.short_id, _("also tagged {tags} outside the course").format(tags=", ".join(foreign))))
