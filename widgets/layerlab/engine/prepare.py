"""`prepare`: provide every base image the course uses, with or without a registry.

With a registry, the official image is pulled at its pinned tag and the course builds a small
labeled image on it (the pulled image itself is not the course's to label or remove). With no
registry, a stand-in is built from Debian packages: busybox-static for the ping base,
debootstrap for the app base. A base that is already there (same recipe) costs one API call.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import docker.errors

from ..core.bases import BASES, BaseSpec, base_spec
from ..core.errors import LayerlabError, NoRegistryAndNoRecipe
from ..core.naming import (
    BASE_LESSON,
    LABEL_BASE,
    LABEL_BUILT_FROM,
    LABEL_RECIPE,
    Namespace,
)

REGISTRY_ENV = "LAYERLAB_REGISTRY"  # "off" forces stand-ins, "on" forces pulls
CACHE_ENV = "LAYERLAB_CACHE"
DEBIAN_SUITE = "bookworm"


@dataclass(frozen=True)
class Progress:
    """One step of `prepare`, for a progress bar or a log line."""

    key: str
    fraction: float
    message: str


@dataclass(frozen=True)
class PreparedBase:
    key: str
    reference: str
    image_id: str
    source: str  # "pulled", "stand-in"
    built_from: str
    reused: bool
    seconds: float

    def explain(self) -> str:
        how = "already there" if self.reused else f"made in {self.seconds:.1f} s"
        if self.source == "pulled":
            why = f"a registry answered, so it is the official {self.built_from} ({how})"
        else:
            why = f"no registry answered, so it is a local stand-in built from {self.built_from} ({how})"
        return f"base for {self.key}: {self.reference} - {why}"


ProgressCallback = Callable[[Progress], None]


def cache_dir(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    root = environ.get(CACHE_ENV) or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "layerlab"
    )
    return Path(root)


def registry_answers(engine, spec: BaseSpec) -> tuple[bool, str]:
    """Ask the registry (through the engine) about the official image; (answers, digest)."""
    forced = engine.environ.get(REGISTRY_ENV, "").lower()
    if forced == "off":
        return False, ""
    try:
        answer = engine.client.api.inspect_distribution(spec.official)
        return True, answer.get("Descriptor", {}).get("digest", "")
    except (docker.errors.APIError, docker.errors.DockerException, OSError):
        if forced == "on":
            raise LayerlabError(
                f"{REGISTRY_ENV}=on but the registry does not answer for {spec.official}.",
                f"Unset {REGISTRY_ENV} to let the course build local stand-ins.",
            )
        return False, ""


def find_base(engine, key: str) -> list:
    """This learner's prepared images for one base key (normally one).

    Images built FROM a base inherit its labels, so the labels alone would also find them:
    a prepared base also has a tag in the learner's `base-` namespace.
    """
    ns = Namespace.for_lesson(BASE_LESSON, engine.environ)
    prefix = ns.repository_prefix + f"{BASE_LESSON}-"
    images = engine.labeled("images", ns.label_filters() + [f"{LABEL_BASE}={key}"])
    return [image for image in images if any(tag.startswith(prefix) for tag in image.tags)]


def base_reference(engine, image) -> str:
    """The prepared base's own tag (the image may carry others too)."""
    prefix = Namespace.for_lesson(BASE_LESSON, engine.environ).repository_prefix + f"{BASE_LESSON}-"
    return next(tag for tag in image.tags if tag.startswith(prefix))


def prepare(engine, keys=None, progress: ProgressCallback | None = None) -> list[PreparedBase]:
    """Provide the bases named by `keys` (all of them by default)."""
    results = []
    for key in keys or list(BASES):
        results.append(prepare_one(engine, base_spec(key), progress or (lambda p: None)))
    return results


def prepare_one(engine, spec: BaseSpec, progress: ProgressCallback) -> PreparedBase:
    started = time.monotonic()
    ns = Namespace.for_lesson(BASE_LESSON, engine.environ)
    progress(Progress(spec.key, 0.0, f"{spec.key}: looking for a prepared base"))
    online, digest = registry_answers(engine, spec)
    if online:
        recipe = spec.recipe_fingerprint(f"official {spec.official} {digest}")
        built_from = f"{spec.official}" + (f"@{digest}" if digest else "")
    else:
        versions = standin_package_versions(spec)
        recipe = spec.recipe_fingerprint(versions)
        built_from = f"Debian packages {versions}"
    existing = find_base(engine, spec.key)
    for image in existing:
        if image.labels.get(LABEL_RECIPE) == recipe:
            progress(Progress(spec.key, 1.0, f"{spec.key}: {base_reference(engine, image)} is already there"))
            return PreparedBase(
                key=spec.key,
                reference=base_reference(engine, image),
                image_id=image.id,
                source="pulled" if online else "stand-in",
                built_from=image.labels.get(LABEL_BUILT_FROM, built_from),
                reused=True,
                seconds=time.monotonic() - started,
            )
    labels = ns.labels(**{LABEL_BASE: spec.key, LABEL_BUILT_FROM: built_from, LABEL_RECIPE: recipe})
    if online:
        reference, image_id = _from_official(engine, ns, spec, digest, labels, progress)
    elif spec.key == "ping":
        reference, image_id = _busybox_standin(engine, ns, spec, labels, progress)
    elif spec.key == "app":
        reference, image_id = _debian_standin(engine, ns, spec, labels, progress)
    else:  # pragma: no cover - every base in BASES has a recipe above
        raise NoRegistryAndNoRecipe(f"No registry answers and {spec.key} has no local recipe.", "")
    # One set of bases: older recipes of the same base go (they are ours: labeled, this learner).
    for image in existing:
        if image.id != image_id:
            _remove_tags(engine, image)
    progress(Progress(spec.key, 1.0, f"{spec.key}: {reference} ready"))
    return PreparedBase(
        key=spec.key,
        reference=reference,
        image_id=image_id,
        source="pulled" if online else "stand-in",
        built_from=built_from,
        reused=False,
        seconds=time.monotonic() - started,
    )


def _remove_tags(engine, image) -> None:
    for tag in image.tags:
        try:
            engine.client.api.remove_image(tag)
        except docker.errors.APIError:
            pass  # still in use by a container of ours; cleanup will take it later


def _from_official(engine, ns, spec, digest, labels, progress):
    progress(Progress(spec.key, 0.1, f"{spec.key}: pulling {spec.official}"))
    repository, tag = spec.official.rsplit(":", 1)
    for event in engine.client.api.pull(repository, tag=tag, stream=True, decode=True):
        if "error" in event:
            raise LayerlabError(f"Pulling {spec.official} failed: {event['error']}", "Check the network and try again.")
        if event.get("status"):
            progress(Progress(spec.key, 0.4, f"{spec.key}: {event['status']} {event.get('id', '')}".strip()))
    pulled = engine.client.api.inspect_image(spec.official)
    if digest and not any(d.endswith(digest) for d in pulled.get("RepoDigests", [])):
        raise LayerlabError(
            f"The pulled {spec.official} does not have the digest the registry announced ({digest}).",
            "Pull again; if it persists, something between you and the registry changes images.",
        )
    lines = [f"FROM {spec.official}"]
    if spec.key == "app":
        # The official slim image has neither make nor python3; this step needs the network.
        lines.append(
            "RUN apt-get update && apt-get install -y --no-install-recommends make python3-minimal "
            "&& ln -s /usr/bin/python3 /usr/local/bin/python && rm -rf /var/lib/apt/lists/*"
        )
    with tempfile.TemporaryDirectory(prefix="layerlab-base-") as context:
        Path(context, "Dockerfile").write_text("\n".join(lines) + "\n")
        reference = ns.image(spec.official.split(":")[0].split("/")[-1], tag)
        progress(Progress(spec.key, 0.7, f"{spec.key}: labeling it as {reference}"))
        stream = engine.client.api.build(
            path=context, tag=reference, labels=labels, rm=True, forcerm=True, decode=True,
            network_mode=None if spec.key == "app" else "none",
        )
        for chunk in stream:
            if "error" in chunk:
                raise LayerlabError(f"Building {reference} failed: {chunk['error'].strip()}", "Try again.")
    return reference, engine.client.api.inspect_image(reference)["Id"]


def standin_package_versions(spec: BaseSpec) -> str:
    if spec.key == "app":
        return f"debootstrap {DEBIAN_SUITE} minbase +{'+'.join(spec.standin_packages)}"
    versions = []
    for package in spec.standin_packages:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
        ) if shutil.which("dpkg-query") else None
        if result is None or result.returncode != 0 or not result.stdout:
            raise NoRegistryAndNoRecipe(
                f"No registry answers, and the Debian package {package} is not installed to build "
                f"the {spec.key} base locally.",
                f"Install it (as root: `apt-get install -y {package}`), or connect to a network "
                "where the engine can pull images.",
            )
        versions.append(f"{package}={result.stdout.strip()}")
    return " ".join(versions)


def _busybox_standin(engine, ns, spec, labels, progress):
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise NoRegistryAndNoRecipe(
            "busybox-static is registered as installed but /bin/busybox is missing.",
            "Reinstall it: `apt-get install --reinstall -y busybox-static`.",
        )
    version = re.search(r"v(\d+\.\d+\.\d+)", subprocess.run([str(busybox)], capture_output=True, text=True).stdout)
    tag = version.group(1) if version else "debian"
    reference = ns.image(spec.standin_name, tag)
    progress(Progress(spec.key, 0.2, f"{spec.key}: packing busybox and its applets into a root filesystem"))
    with tempfile.TemporaryDirectory(prefix="layerlab-busybox-") as context:
        root = Path(context, "rootfs")
        for folder in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "usr/bin", "var"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        shutil.copy2(busybox, root / "bin" / "busybox")
        applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
        for applet in applets:
            if applet != "busybox" and not (root / "bin" / applet).exists():
                (root / "bin" / applet).symlink_to("busybox")
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(Path(context, "rootfs.tar")), "."], check=True)
        shutil.rmtree(root)
        Path(context, "Dockerfile").write_text(
            "FROM scratch\nADD rootfs.tar /\nENV PATH=/bin:/usr/bin\nCMD [\"sh\"]\n"
        )
        progress(Progress(spec.key, 0.6, f"{spec.key}: building {reference} (FROM scratch + ADD rootfs.tar)"))
        for chunk in engine.client.api.build(
            path=context, tag=reference, labels=labels, network_mode="none", rm=True, forcerm=True, decode=True
        ):
            if "error" in chunk:
                raise LayerlabError(f"Building {reference} failed: {chunk['error'].strip()}", "Run prepare again.")
    return reference, engine.client.api.inspect_image(reference)["Id"]


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (never a name written into the course)."""
    candidates = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.exists() else []:
        for block in path.read_text(errors="replace").split("\n\n"):
            fields = dict(
                (line.split(":", 1)[0].strip().lower(), line.split(":", 1)[1].strip())
                for line in block.splitlines()
                if ":" in line and not line.lstrip().startswith("#")
            )
            suites = fields.get("suites", "").split()
            for uri in fields.get("uris", "").split():
                candidates.append((DEBIAN_SUITE in suites, "security" not in uri, uri))
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                uri_index = 2 if parts[1].startswith("[") else 1
                uri, suite = parts[uri_index], parts[uri_index + 1] if len(parts) > uri_index + 1 else ""
                candidates.append((suite == DEBIAN_SUITE, "security" not in uri, uri))
    candidates.sort(reverse=True)
    if not candidates or not candidates[0][1]:
        raise NoRegistryAndNoRecipe(
            "No registry answers, and this machine has no Debian mirror in its apt sources to "
            "build the app base from.",
            "Connect the engine to a registry, or run prepare on a Debian machine.",
        )
    return candidates[0][2]


def _debian_standin(engine, ns, spec, labels, progress):
    reference = ns.image(spec.standin_name, DEBIAN_SUITE)
    cache = cache_dir(engine.environ) / "rootfs"
    tarball = cache / f"debian-{DEBIAN_SUITE}-app-{labels[LABEL_RECIPE]}.tar"
    if not tarball.exists():
        if not shutil.which("debootstrap"):
            raise NoRegistryAndNoRecipe(
                "No registry answers, and debootstrap is not installed to build the app base locally.",
                "Install it (as root: `apt-get install -y debootstrap`), or use an engine that can pull images.",
            )
        if os.geteuid() != 0:
            raise NoRegistryAndNoRecipe(
                "Building the Debian stand-in needs root (debootstrap creates device files and owners).",
                "Run `python -m layerlab prepare` once as root, or use an engine that can pull images.",
            )
        cache.mkdir(parents=True, exist_ok=True)
        _debootstrap_to_tar(spec, tarball, progress)
    else:
        progress(Progress(spec.key, 0.8, f"{spec.key}: reusing the root filesystem cached in {tarball}"))
    progress(Progress(spec.key, 0.85, f"{spec.key}: importing it as {reference} (docker import)"))
    changes = [f'LABEL "{k}"="{v}"' for k, v in labels.items()] + [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
    ]
    repository, tag = reference.rsplit(":", 1)
    answer = engine.client.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=changes)
    if "error" in str(answer).lower() and "status" not in str(answer):
        raise LayerlabError(f"docker import failed: {answer}", "Delete the cached tar and run prepare again.")
    return reference, engine.client.api.inspect_image(reference)["Id"]


_DEBOOTSTRAP_STAGES = (
    ("Retrieving Release", 0.05), ("Retrieving Packages", 0.1), ("Retrieving", 0.2),
    ("Extracting", 0.35), ("Installing core", 0.45), ("Unpacking", 0.55),
    ("Configuring", 0.65), ("Base system installed", 0.75),
)


def _debootstrap_to_tar(spec, tarball: Path, progress) -> None:
    mirror = debian_mirror()
    work = Path(tempfile.mkdtemp(prefix="layerlab-debootstrap-", dir=tarball.parent))
    root = work / "rootfs"
    command = [
        "debootstrap", "--variant=minbase", f"--include={','.join(spec.standin_packages)}",
        DEBIAN_SUITE, str(root), mirror,
    ]
    progress(Progress(spec.key, 0.02, f"{spec.key}: debootstrap {DEBIAN_SUITE} (about a minute)"))
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail = []
        assert process.stdout is not None
        fraction = 0.02
        for line in process.stdout:
            tail = (tail + [line.rstrip()])[-15:]
            for marker, value in _DEBOOTSTRAP_STAGES:
                if marker in line and value > fraction:
                    fraction = value
                    progress(Progress(spec.key, fraction, f"{spec.key}: {line.strip()[2:][:70]}"))
                    break
        if process.wait() != 0:
            raise NoRegistryAndNoRecipe(
                "debootstrap failed: " + " | ".join(tail[-3:]),
                "Check that apt can reach the Debian mirror (`apt-get update`), then run prepare again.",
            )
        progress(Progress(spec.key, 0.78, f"{spec.key}: trimming docs, locales and apt lists"))
        for trash in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists", "var/cache/apt", "var/log"):
            target = root / trash
            if target.exists():
                shutil.rmtree(target)
                target.mkdir(parents=True)
        (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        python_link = root / "usr/local/bin/python"
        if not python_link.exists():
            python_link.symlink_to("/usr/bin/python3")  # the seed's `CMD python /app/app.py`
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
             "-C", str(root), "-cf", str(partial), "."],
            check=True,
        )
        partial.rename(tarball)
    finally:
        for mount in ("proc", "sys"):
            subprocess.run(["umount", "-l", str(root / mount)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def base_for(engine, key: str, prepare_if_missing: bool = True, progress: ProgressCallback | None = None) -> PreparedBase:
    """The prepared base for `key`, preparing it first when it is missing."""
    spec = base_spec(key)
    images = find_base(engine, key)
    if images:
        image = images[0]
        built_from = image.labels.get(LABEL_BUILT_FROM, "?")
        return PreparedBase(
            key=key, reference=base_reference(engine, image), image_id=image.id,
            source="stand-in" if built_from.startswith("Debian packages") else "pulled",
            built_from=built_from, reused=True, seconds=0.0,
        )
    if not prepare_if_missing:
        raise LayerlabError(
            f"The base for {key} ({spec.purpose}) is not prepared.",
            "Run `python -m layerlab prepare` or the setup notebook (00) first.",
        )
    return prepare_one(engine, spec, progress or (lambda p: None))
