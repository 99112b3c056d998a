"""Lesson 06, what layers cost: the bytes an image ships, and the Dockerfile habits that waste them.

    cost = build_and_measure(lesson, "cleanup-later", folder, base)   # build, then measure
    print(cost.report())        # `docker images` size, wasted bytes (split), dive's score
    cost.view()                 # the layer stack drawing
    print(compare(cost, other)) # the size before and after

Every build here uses the classic builder (every engine has it, so the stored outputs read the
same everywhere); `buildkit_note` builds one Dockerfile with BuildKit too where the engine has it.
The wasted bytes come from the layers' tars (`ImageLayers.waste()`), which hold the same files
on every engine. The sizes `docker images` prints differ between overlay2 and the containerd
store (which lists its unpacked snapshots, counted in disk blocks, plus the compressed layer
blobs it keeps), so the lesson shows them in decimal units and never compares them below 1 MB;
its big files are zeros, which compress to almost nothing, so a blob adds little to a size.

The notebook imports everything it uses from here.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

from ..core.build import BuildRecord, CacheStatus
from ..core.errors import LayerlabError
from ..core.i18n import N_, _
from ..core.model import BuilderKind, ImageStack, human_size, truncate
from ..core.questions import CLEANUP_LATER, TOOLS_LEFT_BEHIND, answer_cleanup_later, answer_tools
from ..core.waste import WasteKind, WasteReport
from ..engine.layers import ImageLayers, image_layers
from ..views.layerstack import LayerStackView
from .builds import buildkit_build, check, classic_build

__all__ = [
    "CLEANUP_LATER", "TOOLS_LEFT_BEHIND", "Cost", "Rebuild", "answer_cleanup_later", "answer_tools",
    "build_and_measure", "buildkit_note", "clean_up", "compare", "cost_table", "rebuild_after_edit", "write_files",
]

#: dd's block size in the lesson's Dockerfiles (`bs=1M`): 1,048,576 bytes.
MIB = 1024 * 1024

#: An offender's line in `Cost.report`, by its kind and whether a layer hid it.
_OFFENDER_LINES = {
    (WasteKind.SHADOWED, False): N_("{path} ({size:,} B), stored by layer {layer}, shadowed"),
    (WasteKind.SHADOWED, True): N_("{path} ({size:,} B), stored by layer {layer}, shadowed by layer {by}"),
    (WasteKind.DELETED, False): N_("{path} ({size:,} B), stored by layer {layer}, deleted"),
    (WasteKind.DELETED, True): N_("{path} ({size:,} B), stored by layer {layer}, deleted by layer {by}"),
}

#: The classic builds each lesson ran, for `clean_up`.
_BUILDS: "weakref.WeakKeyDictionary[object, list[BuildRecord]]" = weakref.WeakKeyDictionary()


def _classic(lesson, name: str, folder: Path, **kwargs) -> BuildRecord:
    """A classic build that must succeed, remembered for `clean_up`."""
    record = classic_build(lesson.engine, lesson.namespace, name, folder, **kwargs)
    _BUILDS.setdefault(lesson, []).append(record)
    return check(record)


def in_bytes(size: int) -> str:
    """`27 B`, or `21 MB (20,971,520 B)`: the exact count beside the decimal unit."""
    return f"{size:,} B" if size < 1000 else f"{human_size(size)} ({size:,} B)"


def write_files(folder: Path, files: dict[str, str | bytes | int]) -> Path:
    """Write a build context: text, bytes, or a number (that many zero bytes, a stand-in for data)."""
    for name, content in files.items():
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, int):
            path.write_bytes(b"\0" * content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return Path(folder)


@dataclass(frozen=True)
class Cost:
    """One built image, measured: its size as `docker images` shows it, its layers and their waste."""

    name: str
    reference: str
    size: int  # `docker images` SIZE, in bytes
    layers: ImageLayers
    waste: WasteReport
    base: ImageStack
    base_size: int
    record: BuildRecord | None = None

    @property
    def layers_above_base(self) -> int:
        return len(self.layers.files.layers) - len(self.base.diff_ids)

    def has(self, path: str) -> bool:
        """Whether the finished image shows `path`."""
        return self.layers.files.exists(path)

    def stores(self, path: str) -> bool:
        """Whether any of the image's layers stores `path` (shown or not)."""
        return any(layer.get(path) is not None for layer in self.layers.files.layers)

    def view(self) -> LayerStackView:
        return LayerStackView(self.layers.stack, base=self.base, title=_("{name}: wasted {size}").format(
            name=self.name, size=human_size(self.waste.wasted_bytes)))

    def report(self, offenders: int = 3) -> str:
        """What nbval compares: sizes over 1 MB read `N MB` after sanitizing, byte counts exactly."""
        waste = self.waste
        lines = [
            _("{name}: docker images shows {size} (its base {base_size}); {count} layer(s) above the base").format(
                name=self.name, size=human_size(self.size), base_size=human_size(self.base_size),
                count=self.layers_above_base),
            "  " + _("wasted: {wasted}: shadowed {shadowed:,} B, deleted {deleted:,} B").format(
                wasted=in_bytes(waste.wasted_bytes), shadowed=waste.shadowed_bytes, deleted=waste.deleted_bytes),
        ]
        for offender in waste.offenders[:offenders]:
            template = _OFFENDER_LINES[(offender.kind, offender.hidden_by is not None)]
            lines.append("    " + _(template).format(
                path=offender.path, size=offender.size, layer=offender.layer_index + 1,
                by=None if offender.hidden_by is None else offender.hidden_by + 1))
        if len(waste.offenders) > offenders:
            lines.append("    " + _("... and {count} more").format(count=len(waste.offenders) - offenders))
        lines.append("  " + _("dive's efficiency score: {efficiency:.4f}, inefficient bytes: {inefficient:,} B").format(
            efficiency=waste.dive.efficiency, inefficient=waste.dive.inefficient_bytes))
        return "\n".join(lines)


def build_and_measure(lesson, name: str, folder: Path, base, tag: str = "latest") -> Cost:
    """Build `folder` with the classic builder (failing loudly), then measure the image."""
    record = _classic(lesson, name, folder, tag=tag)
    return measure(lesson, name, record.reference, base, record)


def measure(lesson, name: str, reference: str, base, record: BuildRecord | None = None) -> Cost:
    engine = lesson.engine
    layers = image_layers(engine, reference)
    return Cost(
        name=name, reference=reference, size=engine.listed_size(reference), layers=layers, waste=layers.waste(),
        base=engine.image_stack(base.reference), base_size=engine.listed_size(base.reference), record=record,
    )


def compare(before: Cost, after: Cost) -> str:
    """The size before and after, as `docker images` shows it, and the wasted bytes of each."""
    saved = before.size - after.size
    change = (_("{after} is {size} smaller than {before}") if saved > 0 else
              _("{after} is {size} bigger than {before}") if saved < 0 else _("{after} is the same size as {before}"))
    # A size is the last thing on its line: its digits differ by engine, and no padding may follow them.
    width = max(len(before.name), len(after.name))
    row = _("{label}  wasted {wasted:>12,} B, docker images {size}")
    return "\n".join([
        "  " + row.format(label=f"{before.name + ':':<{width + 1}}", wasted=before.waste.wasted_bytes,
                          size=human_size(before.size)),
        "  " + row.format(label=f"{after.name + ':':<{width + 1}}", wasted=after.waste.wasted_bytes,
                          size=human_size(after.size)),
        "  " + change.format(after=after.name, before=before.name, size=human_size(abs(saved))),
    ])


# -- the order of instructions: a rebuild after an edit -------------------------------------


@dataclass(frozen=True)
class Rebuild:
    """A Dockerfile built, one file of its context edited, and built again."""

    name: str
    first: BuildRecord
    second: BuildRecord
    first_layers: ImageLayers
    second_layers: ImageLayers
    sizes: tuple[int, int]  # `docker images` SIZE of the first and the second image
    base: ImageStack | None = None

    @property
    def new_layers(self) -> list:
        """The second image's layers the first one lacks: what a `docker pull` of it downloads
        on a machine that has the first, and what the engine stores again."""
        old = {layer.diff_id for layer in self.first_layers.files.layers}
        return [layer for layer in self.second_layers.files.layers if layer.diff_id not in old]

    @property
    def new_bytes(self) -> int:
        return sum(layer.size for layer in self.new_layers)

    def report(self) -> str:
        rebuilt = [s for s in self.second.lesson_steps if s.status is CacheStatus.MISS]
        total = len(self.second_layers.files.layers)
        first, second = self.sizes
        wasted = self.second_layers.waste().wasted_bytes
        return "\n".join([
            *_steps_text(self.second),
            _("{name}: docker images shows {first} before the edit, {second} after; wasted: {wasted}").format(
                name=self.name, first=human_size(first), second=human_size(second), wasted=in_bytes(wasted)),
            "  " + _("the rebuild ran {count} step(s) again ({keywords}); {new} of its {total} layers are new: "
                     "{size} to store, push and pull again").format(
                count=len(rebuilt), keywords=", ".join(s.keyword for s in rebuilt) or _("none"),
                new=len(self.new_layers), total=total, size=in_bytes(self.new_bytes)),
        ])

    def view(self) -> LayerStackView:
        return LayerStackView(self.second_layers.stack, base=self.base, title=_("{name}, after the edit").format(name=self.name))


def _steps_text(record: BuildRecord) -> list[str]:
    """The build's steps and what the cache did, without FROM (whose line names the learner)."""
    builder = _("classic builder") if record.builder is BuilderKind.CLASSIC else record.builder.value
    lines = [f"{record.title} ({builder}):"]
    for step in record.lesson_steps:
        if not step.is_base:
            lines.append(f"  {step.index:>2}. {truncate(step.instruction, 56):<56}  {step.status.value}")
    lines.append("  -> " + _("{cached} from the cache, {rebuilt} rebuilt").format(
        cached=len(record.cached_steps()), rebuilt=len(record.rebuilt_steps())))
    return lines


def rebuild_after_edit(lesson, name: str, folder: Path, edit: dict[str, str], base=None) -> Rebuild:
    """Build `folder` (tag v1), write the files of `edit` into it, build again (tag v2)."""
    engine = lesson.engine
    first = _classic(lesson, name, folder, tag="v1", title=_("{name}, first build").format(name=name))
    write_files(folder, edit)
    second = _classic(lesson, name, folder, tag="v2",
                      title=_("{name}, after editing {files}").format(name=name, files=", ".join(edit)))
    return Rebuild(name, first, second, image_layers(engine, first.reference), image_layers(engine, second.reference),
                   sizes=(engine.listed_size(first.reference), engine.listed_size(second.reference)),
                   base=None if base is None else engine.image_stack(base.reference))


# -- BuildKit, where the engine has it ------------------------------------------------------


def buildkit_note(lesson, folder: Path, classic: Cost, base) -> str:
    """Build the same multi-stage Dockerfile with BuildKit where the engine has it, and compare.

    Its text differs by engine (20.10 has no BuildKit), so the notebook does not compare it."""
    engine = lesson.engine
    facts = engine.facts
    if not facts.buildkit:
        return _("This engine (Docker {version}) has no BuildKit (`docker buildx`): every build of this "
                 "lesson used the classic builder, which builds every stage of a multi-stage Dockerfile in order. "
                 "The final image is the same; with BuildKit, stages the last one does not need are skipped.").format(
            version=facts.engine_version)
    record = check(buildkit_build(engine, lesson.namespace, classic.name, folder, title=f"{classic.name}, BuildKit"))
    other = measure(lesson, f"{classic.name} (BuildKit)", record.reference, base, record)
    same = [layer.size for layer in other.layers.files.layers] == [layer.size for layer in classic.layers.files.layers]
    return "\n".join([
        _("BuildKit built the same Dockerfile on this engine (Docker {version}):").format(version=facts.engine_version),
        other.report(),
        "  " + (_("its layers hold the same number of bytes as the classic builder's") if same
                else _("its layers hold other bytes than the classic builder's")),
        compare(classic, other),
        _("(BuildKit builds only the stages the final one needs; the classic builder builds them all.)"),
    ])


def cost_table(costs: list[Cost]) -> str:
    """The lesson's images side by side: size, wasted bytes, dive's score."""
    width = max(len(c.name) for c in costs)
    # Each heading as wide as its column (the English ones are exactly that wide).
    image, wasted, efficiency, inefficient = _("image"), _("wasted bytes"), _("dive efficiency"), _("dive inefficient bytes")
    lines = [f"{image:<{width}}  {wasted:>12}  {efficiency:>15}  {inefficient:>22}  docker images"]
    for cost in costs:  # the size last: its digits differ by engine
        lines.append(f"{cost.name:<{width}}  {cost.waste.wasted_bytes:>12,}  {cost.waste.dive.efficiency:>15.4f}  "
                     f"{cost.waste.dive.inefficient_bytes:>22,}  {human_size(cost.size)}")
    return "\n".join(lines)


def clean_up(lesson):
    """The lesson's cleanup, then every step image of its classic builds that is still there.

    A classic build's step images carry the base's labels (the course's come last), so the
    lesson's cleanup cannot tell them from a base's. overlay2 removes them with the image they
    lead to; the containerd store may keep them, untagged. They are removed here, newest first,
    by the ids the builds reported, never by a name or a label."""
    report = lesson.cleanup(quiet=True)
    engine = lesson.engine
    made = [step.made for record in reversed(_BUILDS.pop(lesson, []))
            for step in reversed(record.steps) if step.made and step.status is CacheStatus.MISS]
    for image_id in made:
        try:
            if engine.image(image_id).tags:
                continue
            engine.remove_image(image_id, prune=False)
        except LayerlabError:
            continue  # gone already (the usual case), or still the parent of another image
        report.removed.append(("image", image_id))
    return report
