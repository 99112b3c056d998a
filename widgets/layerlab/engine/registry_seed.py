"""A course registry (scripts/registry.sh): seed it with the course's stand-ins under the
official names, and read back which digests it serves, to pin them (`LAYERLAB_BASE_DIGESTS`).

`python -m layerlab.engine.prepare seed|digests HOST:PORT` runs `main` (scripts/registry.sh
calls it by that name).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core.bases import BASES, base_spec
from ..core.errors import LayerlabError
from ..core.naming import BASE_LESSON
from .prepare import REGISTRY_ENV, ProgressCallback, open_bundle, prepare_one, remove_references

if TYPE_CHECKING:  # annotations only: no import at run time
    from .engine import Engine

SEED_LEARNER_ENV = "LAYERLAB_SEED_LEARNER"


def seed_registry(engine: Engine, address: str, keys=None, seed_learner: str | None = None,
                  keep_standins: bool = False, progress: ProgressCallback | None = None) -> dict[str, str]:
    """Push the course's stand-ins to `address` under the official names
    (`address/library/alpine:3.20.3`, ...); returns {official: digest the registry serves}.

    The stand-ins are prepared for a learner of their own (`seed_learner`), so that they are
    not any learner's bases; the extra registry tags are removed after the push, and so are the
    seed learner's stand-ins unless `keep_standins` (a later pull then really downloads).
    """
    from .cleanup import cleanup

    learner = seed_learner or engine.environ.get(SEED_LEARNER_ENV) or "registry-seed"
    saved = {name: engine.environ.get(name) for name in (REGISTRY_ENV, "LAYERLAB_LEARNER")}
    engine.environ.update({REGISTRY_ENV: "off", "LAYERLAB_LEARNER": learner})
    digests = {}
    try:
        bundle = open_bundle(engine)  # a learner who is not root seeds from the class's bases file
        for spec in [base_spec(key) for key in (keys or list(BASES))]:
            base = prepare_one(engine, spec, progress or (lambda p: None), bundle)
            repository = f"{address}/library/{spec.official_repository}"
            target = f"{repository}:{spec.official_tag}"
            had_tag = engine.image_id(target)
            engine.tag_image(base.image_id, repository, spec.official_tag)
            try:
                digest = ""
                for event in engine.push(repository, spec.official_tag):
                    if "error" in event:
                        raise LayerlabError(f"Pushing {target} failed: {event['error']}",
                                            f"Check that the registry at {address} runs (scripts/registry.sh start).")
                    digest = (event.get("aux") or {}).get("Digest", digest)
                    # the containerd image store says it only in a status line: "TAG: digest: sha256:... size: N"
                    said = re.search(r"digest: (sha256:[0-9a-f]{64})", event.get("status") or "")
                    digest = digest or (said.group(1) if said else "")
            finally:
                if not had_tag:
                    remove_references(engine, [target])
            if not digest:
                raise LayerlabError(f"The registry did not say which digest {target} has.", "Seed again.")
            digests[spec.official] = digest
        if not keep_standins:
            cleanup(engine, lesson=BASE_LESSON, include_bases=True)
    finally:
        for name, value in saved.items():
            if value is None:
                engine.environ.pop(name, None)
            else:
                engine.environ[name] = value
    return digests


def served_digests(address: str, timeout: float = 5.0) -> dict[str, str]:
    """Ask a registry directly (HTTP on this machine) which digest each official tag has."""
    import urllib.request

    accept = ", ".join((
        "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    ))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    digests = {}
    for spec in BASES.values():
        url = f"http://{address}/v2/library/{spec.official_repository}/manifests/{spec.official_tag}"
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": accept})
        try:
            with opener.open(request, timeout=timeout) as response:
                digests[spec.official] = response.headers.get("Docker-Content-Digest", "")
        except OSError:
            continue
    return digests


def digests_setting(digests: dict[str, str]) -> str:
    """The LAYERLAB_BASE_DIGESTS value that pins these digests."""
    return ",".join(f"{official}={digest}" for official, digest in sorted(digests.items()) if digest)


def main(argv=None) -> int:
    """python -m layerlab.engine.prepare seed|digests HOST:PORT (used by scripts/registry.sh)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m layerlab.engine.prepare")
    parser.add_argument("command", choices=("seed", "digests"))
    parser.add_argument("address", help="the registry, HOST:PORT")
    parser.add_argument("--keep-standins", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "seed":
            from . import connect_live

            engine = connect_live()
            try:
                digests = seed_registry(engine, args.address, keep_standins=args.keep_standins,
                                        progress=lambda p: print(f"  {p.message}", flush=True) if p.fraction >= 1.0 else None)
            finally:
                engine.close()
        else:
            digests = served_digests(args.address)
    except LayerlabError as error:
        print(f"layerlab: {error.explain()}")
        return 1
    for official, digest in sorted(digests.items()):
        print(f"# {args.address}/library/{official} {digest}")
    if digests:
        print(f"export LAYERLAB_BASE_DIGESTS={digests_setting(digests)}")
    return 0 if digests else 1
