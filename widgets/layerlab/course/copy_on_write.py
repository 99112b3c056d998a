"""Lesson 02, copy-on-write: a container's R/W layer watched as it changes, and committed.

    monitor = watch_copy_ups(lesson, box)   # a live CopyUpMonitor; display it in a cell
    monitor.wait_for("/data/big.bin")        # the event, once the watcher has seen it

The notebook imports everything it uses from here.
"""

from __future__ import annotations

from ..core.copyup import DEFAULT_FULL_EVERY, DEFAULT_INTERVAL, copy_up_report, rough_size
from ..core.errors import LayerlabError, NotOnEngine
from ..core.i18n import _
from ..core.model import ChangeKind
from ..core.questions import APPEND_ONE_BYTE, answer_append
from ..engine.engine import Engine
from ..engine.layers import container_exists, image_layers, which
from ..engine.watch import CopyUpWatcher, resolve_container
from ..views.copyup import CopyUpMonitor
from ..views.layerstack import LayerStackView
from ..views.overlay import Drawing, shared_layers_svg

__all__ = [
    "APPEND_ONE_BYTE", "ChangeKind", "LayerStackView", "answer_append", "commit_rw_layer", "container_exists",
    "copy_up_report", "image_layers", "rough_size", "shared_layers", "watch_copy_ups", "which",
]


def watch_copy_ups(lesson_or_engine, container, interval: float = DEFAULT_INTERVAL,
                   full_every: float = DEFAULT_FULL_EVERY, start: bool = True) -> CopyUpMonitor:
    """A monitor of `container`'s R/W layer (a handle, an id or a name), watching already
    unless `start` is False. Pass the lesson or its engine."""
    engine = getattr(lesson_or_engine, "engine", lesson_or_engine)
    watcher = CopyUpWatcher(engine, container, interval=interval, full_every=full_every)
    return CopyUpMonitor(watcher, engine, start=start)


def shared_layers(lesson_or_engine, image: str, containers) -> Drawing:
    """The seed's "containers share image layers" figure for `containers` (handles, ids or
    names) over `image`: one read-only stack, one R/W layer each, as the engine measures them."""
    engine = getattr(lesson_or_engine, "engine", lesson_or_engine)
    stack = engine.image_stack(image)
    layers = [engine.container_layer(getattr(c, "id", None) or resolve_container(engine, c).id, with_changes=False)
              for c in containers]
    lines = [_("{containers} containers over one image ({layers} read-only layers, stored once):").format(
        containers=len(layers), layers=len(stack.diff_ids))]
    lines += ["  " + _("{name}: its own R/W layer, {size}").format(name=layer.name, size=rough_size(layer.size_rw))
              for layer in layers]
    return Drawing(shared_layers_svg(stack, layers), "\n".join(lines))


def commit_rw_layer(engine: Engine, namespace, container, name: str, message: str = "") -> str:
    """`docker commit`: the container's R/W layer becomes the top layer of a new image.

    The image gets the course's labels (set here: a commit copies the container's config,
    and the labels must not depend on it) and a name in the learner's namespace. Returns
    the new image's reference.
    """
    reference = namespace.image(name)
    repository, tag = reference.rsplit(":", 1)
    labels = " ".join(f'{key}="{value}"' for key, value in namespace.labels().items())
    container_id = getattr(container, "id", None) or resolve_container(engine, container).id
    try:
        engine.commit(container_id, repository, tag,
                      message or "docker commit of a container's R/W layer (layerlab lesson)", [f"LABEL {labels}"])
    except NotOnEngine:
        raise LayerlabError(_("There is no container {name} to commit.").format(name=repr(container_id)),
                            _("Start it again (run the cells above).")) from None
    return reference
