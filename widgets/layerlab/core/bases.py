"""The base images the course uses, and how each is provided.

Every base has a purpose (what lessons use it for), an official image at a pinned version tag
and manifest digest (pulled when a registry answers, and checked against the pin), the tools
lessons need in it (checked in the image, with no network), and a local stand-in built from
Debian packages when no registry answers. Stand-ins have names of their own, never an official
image's, and labels that say what they were built from.

The pins are the multi-platform index digests Docker Hub published for the two tags (read from
public Dockerfiles that pin them; alpine:3.20.3 was pushed twice, first as sha256:beefdbd8...,
then re-pushed as the digest below). `LAYERLAB_BASE_DIGESTS` overrides them, for tests and a
course registry that serves other images under the official names:

    LAYERLAB_BASE_DIGESTS=alpine:3.20.3=sha256:...,debian:bookworm-20241111-slim=sha256:...
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Mapping

from .errors import LayerlabError
from .i18n import N_, _

DIGESTS_ENV = "LAYERLAB_BASE_DIGESTS"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

#: Bump when a stand-in recipe changes, so that `prepare` rebuilds it.
RECIPE_VERSION = "3"


@dataclass(frozen=True)
class BaseSpec:
    key: str
    purpose: str  # marked with N_(): shown through _()
    official: str
    official_note: str
    official_digest: str  # the manifest (index) digest the official tag is pinned to
    required_tools: tuple[str, ...]  # what lessons run in it; checked in a pulled image
    standin_name: str
    standin_packages: tuple[str, ...]
    standin_method: str

    @property
    def official_repository(self) -> str:
        return self.official.rsplit(":", 1)[0]

    @property
    def official_tag(self) -> str:
        return self.official.rsplit(":", 1)[1]

    def recipe_fingerprint(self, package_versions: str) -> str:
        text = f"{RECIPE_VERSION}|{self.key}|{self.standin_method}|{','.join(self.standin_packages)}|{package_versions}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


BASES: dict[str, BaseSpec] = {
    spec.key: spec
    for spec in (
        BaseSpec(
            key="ping",
            purpose=N_("a small shell image with ping, for the CMD/ENTRYPOINT lesson and quick demos"),
            official="alpine:3.20.3",
            official_note="the official alpine image at a pinned tag, as the seed uses (it says alpine:latest)",
            official_digest="sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a",
            required_tools=("sh", "ping"),
            standin_name="busybox",
            standin_packages=("busybox-static",),
            standin_method="busybox-static binary and its applet links, FROM scratch + ADD rootfs.tar",
        ),
        BaseSpec(
            key="app",
            purpose=N_("a Debian base with make and python3, for the seed's sample app (COPY, RUN make, CMD python)"),
            official="debian:bookworm-20241111-slim",
            official_note=(
                "the official Debian image at a dated tag; the official slim image has no make or python3, "
                "and the course installs nothing into a pulled image (builds get no network), so a registry "
                "serving it must serve a Debian that has them (scripts/registry.sh seed does)"
            ),
            official_digest="sha256:ca3372ce30b03a591ec573ea975ad8b0ecaf0eb17a354416741f8001bbcae33d",
            required_tools=("make", "python3"),
            standin_name="debian-app",
            standin_packages=("make", "python3-minimal"),
            standin_method="debootstrap --variant=minbase bookworm, trimmed, then docker import",
        ),
    )
}


def base_spec(key: str) -> BaseSpec:
    try:
        return BASES[key]
    except KeyError:
        raise KeyError(f"no base called {key!r}; the course has: {', '.join(sorted(BASES))}") from None


def pinned_digests(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The digest each official image must have: the course's pins, overridden by
    `LAYERLAB_BASE_DIGESTS` (comma-separated `name:tag=sha256:...`)."""
    pins = {spec.official: spec.official_digest for spec in BASES.values()}
    raw = (environ or {}).get(DIGESTS_ENV, "").strip()
    for item in filter(None, (part.strip() for part in raw.split(","))):
        official, _sep, digest = item.rpartition("=")
        if official not in pins or not _DIGEST.match(digest):
            raise LayerlabError(
                _("{variable} has an entry the course cannot use: {item}.").format(variable=DIGESTS_ENV, item=repr(item)),
                _("Write name:tag=sha256:<64 hex digits>, for one of: {names}.").format(names=", ".join(sorted(pins))),
            )
        pins[official] = digest
    return pins
