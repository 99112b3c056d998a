"""`prepare`: provide every base image the course uses, with or without a registry.

Where the official images come from is one setting, `LAYERLAB_REGISTRY`:

    off          never pull: build local stand-ins (busybox-static for ping, debootstrap for app)
    HOST:PORT    pull HOST:PORT/library/<name>:<tag> (a course registry, such as the one
                 scripts/registry.sh runs on 127.0.0.1) and retag it to the official <name>:<tag>
    docker.io    pull the official images from Docker Hub
    (unset)      docker.io on a learner's machine. When CI is set, or under pytest
                 (PYTEST_CURRENT_TEST), unset means off: tests and CI never reach Docker Hub, and
                 they set the variable explicitly anyway. Registry mirrors are never configured.

A pulled image must have the manifest digest pinned in `core.bases` (or in
`LAYERLAB_BASE_DIGESTS`): the digest the registry announces is checked before anything is pulled,
and the pulled image's RepoDigests after. A mismatch (a tag re-pushed with other content) is a
`DigestMismatch`, and what the pull made is removed again.

The registry is asked first, through the engine, with a bound of `REGISTRY_TIMEOUT` seconds
(`LAYERLAB_REGISTRY_TIMEOUT`). A registry that does not answer in that time (nothing listening,
no DNS) means local stand-ins, and the learner is told so; a registry that answers but does not
have the image is an error, since that is a registry to fix, not an offline classroom.

On a pulled image the course builds a small labeled base FROM the image's id, with no network:
one RUN step checks that the tools lessons need are there (sh and ping; make and python3) and
adds the `python` link the seed's CMD uses. Nothing is installed: the official Debian slim image
has neither make nor python3, so it fails that check with a `BaseLacksTools` error naming them;
the course registry serves a Debian with both. The pulled image itself is not labeled by the
course and is not removed by its cleanup (it has the official name, which no learner owns).

The stand-ins' host work (the apt mirror, dpkg, busybox, debootstrap, the cache folder) is
`layerlab.host.standins`; this module builds and imports the labeled images from what it makes.
Seeding a course registry is `registry_seed`.

With a recorded engine (`engine.live` is False) prepare asks this machine nothing (no dpkg, no
busybox, no debootstrap, no cache folder, no registry): it uses the bases the recording holds.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.bases import BASES, BaseSpec, base_spec, pinned_digests
from ..core.errors import EngineRefused, LayerlabError, NoRegistryAndNoRecipe
from ..core.i18n import _
from ..core.naming import (
    BASE_LESSON,
    LABEL_BASE,
    LABEL_BUILT_FROM,
    LABEL_RECIPE,
    Namespace,
)
from ..host import standins
from ..host.bundle import Bundle, bundle_path
from .standin_images import Progress, ProgressCallback
from .standin_images import busybox_standin as _busybox_standin
from .standin_images import debian_standin as _debian_standin

if TYPE_CHECKING:  # annotations only: no import at run time
    from .engine import Engine

REGISTRY_ENV = "LAYERLAB_REGISTRY"
REGISTRY_TIMEOUT_ENV = "LAYERLAB_REGISTRY_TIMEOUT"
#: Seconds the registry gets to answer before the course falls back to stand-ins.
REGISTRY_TIMEOUT = 10.0
HUB = "docker.io"


class DigestMismatch(LayerlabError):
    """The registry serves another image than the one the course pinned."""


class BaseLacksTools(LayerlabError):
    """A pulled official image lacks a tool the lessons run in it."""


@dataclass(frozen=True)
class PreparedBase:
    key: str
    reference: str
    image_id: str
    source: str  # "pulled", "stand-in"
    built_from: str
    reused: bool
    seconds: float
    note: str = ""  # why a registry was not used, when one was set

    def explain(self) -> str:
        how = _("already there") if self.reused else _("made in {seconds:.1f} s").format(seconds=self.seconds)
        if self.source == "pulled":
            text = _("base for {key}: {reference} - a registry answered, so it is the official {built_from} ({how})")
        else:
            text = _("base for {key}: {reference} - no registry answered, so it is a local stand-in built from "
                     "{built_from} ({how})")
        text = text.format(key=self.key, reference=self.reference, built_from=self.built_from, how=how)
        return f"{text}\n  ({self.note})" if self.note else text


@dataclass(frozen=True)
class RegistrySetting:
    """Where official images come from: mode "off", "hub" or "registry" (at `address`)."""

    mode: str
    address: str
    why: str

    def remote(self, spec: BaseSpec) -> tuple[str, str]:
        """(repository, tag) to pull for a base's official image."""
        if self.mode == "hub":
            return spec.official_repository, spec.official_tag
        return f"{self.address}/library/{spec.official_repository}", spec.official_tag

    def describe(self) -> str:
        if self.mode in ("off", "hub"):
            return _("no registry") if self.mode == "off" else "Docker Hub"
        return _("the registry {address}").format(address=self.address)

    def describe_first(self) -> str:
        """`describe()` to begin a sentence: its first letter upper case, in any language (a
        script without case, as Korean, is left as it is; a name keeps its own capitals)."""
        text = self.describe()
        return text[:1].upper() + text[1:]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def registry_setting(environ) -> RegistrySetting:
    """Read `LAYERLAB_REGISTRY` (see the module's docstring)."""
    raw = (environ.get(REGISTRY_ENV) or "").strip()
    if not raw:
        if _truthy(environ.get("CI")) or environ.get("PYTEST_CURRENT_TEST"):
            return RegistrySetting("off", "", f"{REGISTRY_ENV} is unset in CI or a test run, so never Docker Hub")
        return RegistrySetting("hub", HUB, f"{REGISTRY_ENV} is unset: the official images come from Docker Hub")
    lowered = raw.lower()
    if lowered == "off":
        return RegistrySetting("off", "", f"{REGISTRY_ENV}=off")
    if lowered in (HUB, "hub", "registry-1.docker.io", "index.docker.io"):
        return RegistrySetting("hub", HUB, f"{REGISTRY_ENV}={raw}")
    address = raw.rstrip("/")
    if "://" in address or "/" in address or not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?|\[[0-9a-fA-F:]+\](:\d+)?", address):
        raise LayerlabError(
            _("{variable}={raw} is not a registry address.").format(variable=REGISTRY_ENV, raw=raw),
            _("Use off, docker.io, or HOST:PORT (for example 127.0.0.1:5000), with no scheme or path."),
        )
    return RegistrySetting("registry", address, f"{REGISTRY_ENV}={raw}")


def registry_timeout(environ) -> float:
    try:
        return float(environ.get(REGISTRY_TIMEOUT_ENV) or REGISTRY_TIMEOUT)
    except ValueError:
        return REGISTRY_TIMEOUT


@dataclass(frozen=True)
class RegistryAnswer:
    answers: bool
    digest: str = ""
    why_not: str = ""  # when it does not answer: what happened, for the learner
    seconds: float = 0.0


_MISSING = ("manifest unknown", "not found", "name unknown", "does not exist")


def ask_registry(engine: Engine, setting: RegistrySetting, spec: BaseSpec) -> RegistryAnswer:
    """Ask the registry, through the engine, for the official image's digest, within the bound.

    Silence (refused, no DNS, timeout) is an answer of its own: stand-ins. A registry that
    answers without the image is an error to fix.
    """
    repository, tag = setting.remote(spec)
    name = f"{repository}:{tag}"
    bound = registry_timeout(engine.environ)
    started = time.monotonic()
    try:
        answer = engine.registry_has(name, timeout=bound)
    except EngineRefused as error:
        seconds = time.monotonic() - started
        message = str(error.explanation or error.what)
        if any(marker in message.lower() for marker in _MISSING):
            raise LayerlabError(
                _("{registry} answers but has no {name} ({message}).").format(
                    registry=setting.describe_first(), name=name, message=message.strip()[:200]),
                _("Put the image there (for a course registry: `bash scripts/registry.sh seed`), or set "
                  "{variable}=off for local stand-ins.").format(variable=REGISTRY_ENV),
            ) from None
        return RegistryAnswer(False, why_not=message.strip()[:200], seconds=seconds)
    except Exception as error:  # a timeout or a broken connection: the registry did not answer
        seconds = time.monotonic() - started
        why_not = _("no answer within {bound:g} s ({error})").format(bound=bound, error=type(error).__name__)
        return RegistryAnswer(False, why_not=why_not, seconds=seconds)
    return RegistryAnswer(True, digest=(answer.get("Descriptor") or {}).get("digest", ""), seconds=time.monotonic() - started)


def find_base(engine: Engine, key: str) -> list:
    """This learner's prepared images for one base key (normally one).

    Images built FROM a base inherit its labels, so the labels alone would also find them:
    a prepared base also has a tag in the learner's `base-` namespace.
    """
    ns = Namespace.for_lesson(BASE_LESSON, engine.environ)
    prefix = ns.repository_prefix + f"{BASE_LESSON}-"
    images = engine.labeled("images", ns.label_filters() + [f"{LABEL_BASE}={key}"])
    return [image for image in images if any(tag.startswith(prefix) for tag in image.tags)]


def base_reference(engine: Engine, image) -> str:
    """The prepared base's own tag (the image may carry others too)."""
    prefix = Namespace.for_lesson(BASE_LESSON, engine.environ).repository_prefix + f"{BASE_LESSON}-"
    return next(tag for tag in image.tags if tag.startswith(prefix))


def prepare(engine: Engine, keys=None, progress: ProgressCallback | None = None,
            bundle: str | None = None) -> list[PreparedBase]:
    """Provide the bases named by `keys` (all of them by default). Stand-ins come from the
    bases file `bundle` (or `LAYERLAB_BASES`) when one is given, else from this machine."""
    results = []
    opened = open_bundle(engine, bundle)
    for key in keys or list(BASES):
        results.append(prepare_one(engine, base_spec(key), progress or (lambda p: None), opened))
    return results


def open_bundle(engine: Engine, path: str | None = None) -> Bundle | None:
    """The bases file to import stand-ins from: `path`, else `LAYERLAB_BASES`, else none.
    A replay asks this machine nothing, so it opens none."""
    path = path or bundle_path(engine.environ)
    return Bundle(path) if path and engine.live else None


def _source_of(built_from: str) -> str:
    return "stand-in" if built_from.startswith("Debian packages") else "pulled"


def _recorded_base(engine: Engine, spec: BaseSpec, progress: ProgressCallback) -> PreparedBase:
    """In a replay: the base the recording holds. Nothing on this machine is asked."""
    images = find_base(engine, spec.key)
    if not images:
        raise LayerlabError(
            _("The recording has no prepared base for {key}, and a recording cannot make one.").format(key=spec.key),
            _("Connect a live engine (see the README), or record lesson 00 again."),
        )
    image = images[0]
    reference = base_reference(engine, image)
    built_from = image.labels.get(LABEL_BUILT_FROM, "?")
    progress(Progress(spec.key, 1.0, _("{key}: {reference} is in the recording").format(key=spec.key, reference=reference)))
    return PreparedBase(key=spec.key, reference=reference, image_id=image.id, source=_source_of(built_from),
                        built_from=built_from, reused=True, seconds=0.0)


def prepare_one(engine: Engine, spec: BaseSpec, progress: ProgressCallback,
                bundle: Bundle | None = None) -> PreparedBase:
    if not engine.live:
        return _recorded_base(engine, spec, progress)
    started = time.monotonic()
    ns = Namespace.for_lesson(BASE_LESSON, engine.environ)
    progress(Progress(spec.key, 0.0, _("{key}: looking for a prepared base").format(key=spec.key)))
    setting = registry_setting(engine.environ)
    pin = pinned_digests(engine.environ)[spec.official]
    official_recipe = spec.recipe_fingerprint(f"official {spec.official}@{pin}")
    existing = find_base(engine, spec.key)
    note = ""
    online = False
    if setting.mode != "off":
        for image in existing:  # the pinned official image was pulled before: no registry needed
            if image.labels.get(LABEL_RECIPE) == official_recipe:
                return _reused(engine, spec, image, "pulled", f"{spec.official}@{pin}", started, progress)
        progress(Progress(spec.key, 0.05, _("{key}: asking {registry} for {image} (at most {bound:g} s)").format(
            key=spec.key, registry=setting.describe(), image=spec.official, bound=registry_timeout(engine.environ))))
        answer = ask_registry(engine, setting, spec)
        if answer.answers:
            if answer.digest and answer.digest != pin:
                raise _mismatch(setting, spec, pin, answer.digest)
            online = True
        else:
            note = _("{registry} did not answer ({why}; after {seconds:.1f} s, the course waits at most {bound:g} s), "
                     "so the lessons use local stand-ins").format(registry=setting.describe(), why=answer.why_not,
                                                                 seconds=answer.seconds, bound=registry_timeout(engine.environ))
            progress(Progress(spec.key, 0.1, f"{spec.key}: {note}"))
    if online:
        recipe, built_from = official_recipe, f"{spec.official}@{pin}"
    else:
        bundled = bundle.bases.get(spec.key) if bundle else None
        versions = bundled.versions if bundled else standins.standin_package_versions(spec)
        recipe = spec.recipe_fingerprint(versions)
        built_from = f"Debian packages {versions}"
        for image in existing:
            if image.labels.get(LABEL_RECIPE) == recipe:
                return _reused(engine, spec, image, "stand-in", built_from, started, progress, note)
    labels = ns.labels(**{LABEL_BASE: spec.key, LABEL_BUILT_FROM: built_from, LABEL_RECIPE: recipe})
    if online:
        reference, image_id = _from_official(engine, ns, spec, setting, pin, labels, progress)
    elif spec.key == "ping":
        reference, image_id = _busybox_standin(engine, ns, spec, labels, progress, bundle if bundled else None)
    elif spec.key == "app":
        reference, image_id = _debian_standin(engine, ns, spec, labels, progress, bundle if bundled else None)
    else:  # pragma: no cover - every base in BASES has a recipe above
        raise NoRegistryAndNoRecipe(_("No registry answers and {key} has no local recipe.").format(key=spec.key), "")
    # One set of bases: older recipes of the same base go (they are ours: labeled, this learner).
    for image in existing:
        if image.id != image_id:
            _remove_tags(engine, image)
    progress(Progress(spec.key, 1.0, _("{key}: {reference} ready").format(key=spec.key, reference=reference)))
    return PreparedBase(
        key=spec.key,
        reference=reference,
        image_id=image_id,
        source="pulled" if online else "stand-in",
        built_from=built_from,
        reused=False,
        seconds=time.monotonic() - started,
        note=note,
    )


def _reused(engine: Engine, spec, image, source, built_from, started, progress, note="") -> PreparedBase:
    reference = base_reference(engine, image)
    progress(Progress(spec.key, 1.0, _("{key}: {reference} is already there").format(key=spec.key, reference=reference)))
    return PreparedBase(
        key=spec.key, reference=reference, image_id=image.id, source=source,
        built_from=image.labels.get(LABEL_BUILT_FROM, built_from), reused=True,
        seconds=time.monotonic() - started, note=note,
    )


def _mismatch(setting, spec, pin, found) -> DigestMismatch:
    return DigestMismatch(
        _("{registry} serves {image} with digest {found}, but the course pins {pin}: the tag was pushed again "
          "with other content, so it is not the image the lessons were written for. Nothing was kept.").format(
            registry=setting.describe_first(), image=spec.official, found=found, pin=pin),
        _("Use a registry that serves the pinned image, or set {variable}=off for local stand-ins. If the new "
          "image is the one you want, pin it: LAYERLAB_BASE_DIGESTS={image}={found}.").format(
            variable=REGISTRY_ENV, image=spec.official, found=found),
    )


def _remove_tags(engine: Engine, image) -> None:
    """Remove the learner's base tags of an older base; any other name it has stays."""
    prefix = Namespace.for_lesson(BASE_LESSON, engine.environ).repository_prefix + f"{BASE_LESSON}-"
    for tag in [tag for tag in image.tags if tag.startswith(prefix)]:
        try:
            engine.remove_image(tag, prune=False)
        except EngineRefused:
            pass  # still in use by a container of ours; cleanup will take it later


def _exists(engine: Engine, reference: str) -> str:
    """The image id `reference` names on the engine, or ""."""
    return engine.image_id(reference)


def remove_references(engine: Engine, references) -> None:
    """Remove these names (tags or digest references) the course made; one still in use stays."""
    for reference in references:
        try:
            engine.remove_image(reference)
        except EngineRefused:
            pass  # gone already, or still used: then it was not only ours


def _from_official(engine: Engine, ns, spec, setting, pin, labels, progress):
    """Pull the official image, check its digest, give it the official name, and build the
    labeled base FROM its id with no network (a check of the tools, the python link)."""
    repository, tag = setting.remote(spec)
    pulled_name = f"{repository}:{tag}"
    had_tag = _exists(engine, pulled_name)
    had_digest = _exists(engine, f"{repository}@{pin}")
    progress(Progress(spec.key, 0.1, _("{key}: pulling {name}").format(key=spec.key, name=pulled_name)))
    made = [] if had_tag else [pulled_name]
    try:
        for event in engine.pull(repository, tag):
            if "error" in event:
                raise LayerlabError(_("Pulling {name} failed: {error}").format(name=pulled_name, error=event["error"]),
                                    _("Check {registry}, or set {variable}=off for local stand-ins.").format(
                                        registry=setting.describe(), variable=REGISTRY_ENV))
            if event.get("status"):
                progress(Progress(spec.key, 0.4, f"{spec.key}: {event['status']} {event.get('id', '')}".strip()))
        pulled = engine.image(pulled_name)
        digests = list(pulled.repo_digests)
        if not had_digest:
            made += [d for d in digests if d.split("@", 1)[0] == repository or d.endswith("@" + pin)]
        if not any(d.endswith("@" + pin) for d in digests):
            found = ", ".join(d.split("@", 1)[1] for d in digests) or _("no digest at all")
            raise _mismatch(setting, spec, pin, found)
    except BaseException:
        remove_references(engine, made)
        raise
    image_id = pulled.id
    official_id = _exists(engine, spec.official)
    if setting.mode == "registry":
        if not official_id:
            engine.tag_image(image_id, spec.official_repository, spec.official_tag)
            progress(Progress(spec.key, 0.6, _("{key}: tagged it {image}").format(key=spec.key, image=spec.official)))
        elif official_id != image_id:  # not ours to move: the registry's name keeps the pulled image
            progress(Progress(spec.key, 0.6, _("{key}: {image} here is another image, left alone; the pulled one keeps "
                                               "the name {name}").format(key=spec.key, image=spec.official, name=pulled_name)))
        if not had_tag and _exists(engine, spec.official) == image_id:
            remove_references(engine, [pulled_name])  # the official name (and the digest) keep it
    lines = [
        f"FROM {image_id}",
        _tools_check(spec),
    ]
    reference = ns.image(spec.official_repository.split("/")[-1], tag)
    with tempfile.TemporaryDirectory(prefix="layerlab-base-") as context:
        Path(context, "Dockerfile").write_text("\n".join(lines) + "\n")
        progress(Progress(spec.key, 0.7, _("{key}: checking {tools} and labeling it as {reference}").format(
            key=spec.key, tools=", ".join(spec.required_tools), reference=reference)))
        log = []
        for event in engine.build_events(context, reference, labels):
            log += event.text.splitlines()
            if event.error:
                missing = [line.split(":", 1)[1].split() for line in log if line.startswith("layerlab-missing:")]
                if missing:
                    raise BaseLacksTools(
                        _("The official {image} from {registry} has no {tools}, which the lessons run in the {key} "
                          "base. The course installs nothing into a pulled image (builds get no network), so it "
                          "cannot use this one.").format(image=spec.official, registry=setting.describe(),
                                                         tools=_(" and no ").join(missing[0]), key=spec.key),
                        _("Set {variable}=off to build the local stand-in (Debian's debootstrap, as root), or "
                          "point it at a registry whose image has them (scripts/registry.sh seed serves one).").format(
                            variable=REGISTRY_ENV),
                    )
                raise LayerlabError(_("Building {reference} failed: {error}").format(reference=reference, error=event.error),
                                    _("Try again."))
    return reference, engine.image(reference).id


def _tools_check(spec: BaseSpec) -> str:
    """One RUN step, no network: fail with a readable line when a tool is missing; add the
    `python` link the seed's `CMD python ...` needs when python3 is there."""
    tools = " ".join(spec.required_tools)
    step = (
        f'RUN missing=""; for tool in {tools}; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done; '
        'if [ -n "$missing" ]; then echo "layerlab-missing:$missing"; exit 3; fi'
    )
    if "python3" in spec.required_tools:
        step += '; command -v python >/dev/null 2>&1 || { mkdir -p /usr/local/bin && ln -s "$(command -v python3)" /usr/local/bin/python; }'
    return step


def base_for(engine: Engine, key: str, prepare_if_missing: bool = True, progress: ProgressCallback | None = None) -> PreparedBase:
    """The prepared base for `key`, preparing it first when it is missing."""
    spec = base_spec(key)
    images = find_base(engine, key)
    if images:
        image = images[0]
        built_from = image.labels.get(LABEL_BUILT_FROM, "?")
        return PreparedBase(
            key=key, reference=base_reference(engine, image), image_id=image.id,
            source=_source_of(built_from), built_from=built_from, reused=True, seconds=0.0,
        )
    if not prepare_if_missing:
        raise LayerlabError(
            _("The base for {key} ({purpose}) is not prepared.").format(key=key, purpose=_(spec.purpose)),
            _("Run `python -m layerlab prepare` or the setup notebook (00) first."),
        )
    return prepare_one(engine, spec, progress or (lambda p: None), open_bundle(engine))


if __name__ == "__main__":  # pragma: no cover - exercised through scripts/registry.sh
    # scripts/registry.sh runs `python -m layerlab.engine.prepare seed|digests HOST:PORT`;
    # the seeding itself is in registry_seed.
    from .registry_seed import main

    raise SystemExit(main())
