"""The base images the course uses, and how each is provided.

Every base has a purpose (what lessons use it for), an official image at a pinned version tag
(pulled when a registry answers), and a local stand-in built from Debian packages when none
does. Stand-ins have names of their own, never an official image's, and labels that say what
they were built from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Bump when a stand-in recipe changes, so that `prepare` rebuilds it.
RECIPE_VERSION = "3"


@dataclass(frozen=True)
class BaseSpec:
    key: str
    purpose: str
    official: str
    official_note: str
    standin_name: str
    standin_packages: tuple[str, ...]
    standin_method: str

    def recipe_fingerprint(self, package_versions: str) -> str:
        text = f"{RECIPE_VERSION}|{self.key}|{self.standin_method}|{','.join(self.standin_packages)}|{package_versions}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


BASES: dict[str, BaseSpec] = {
    spec.key: spec
    for spec in (
        BaseSpec(
            key="ping",
            purpose="a small shell image with ping, for the CMD/ENTRYPOINT lesson and quick demos",
            official="alpine:3.20.3",
            official_note="the official alpine image at a pinned tag, as the seed uses (it says alpine:latest)",
            standin_name="busybox",
            standin_packages=("busybox-static",),
            standin_method="busybox-static binary and its applet links, FROM scratch + ADD rootfs.tar",
        ),
        BaseSpec(
            key="app",
            purpose="a Debian base with make and python3, for the seed's sample app (COPY, RUN make, CMD python)",
            official="debian:bookworm-20241111-slim",
            official_note="the official Debian image at a dated tag, plus make and python3 from Debian's packages",
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
