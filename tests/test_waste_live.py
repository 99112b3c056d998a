"""Engine tier: `layers --json` wasted bytes and dive's score against an independent count.

One image with known waste is built by each builder this engine has: a big file deleted, a
small one written again, a directory removed, a hard-linked file whose other name stays, a
directory removed and made again (one opaque directory, or per-file whiteouts where the engine
has no native overlay diff) and a `chmod` (a copy-up). The test reads the image's `docker save`
with Python's own tarfile (not the course's streaming reader), merges the layers itself and
compares; the figures are also checked against the ones worked out by hand below.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile

import pytest

from support import BUILDERS, build_by, run_cli

pytestmark = pytest.mark.engine

WASTE = """\
FROM {base}
RUN mkdir -p /w/dir /w/cache && dd if=/dev/zero of=/w/big bs=1000 count=300 2>/dev/null \\
    && echo abc > /w/small && echo 1234567 > /w/dir/x && dd if=/dev/zero of=/w/hard bs=1000 count=5 2>/dev/null \\
    && ln /w/hard /w/hard2 && echo cc > /w/cache/c && dd if=/dev/zero of=/w/tool bs=1000 count=2 2>/dev/null
RUN rm /w/big && echo defgh > /w/small && rm -rf /w/dir && rm /w/hard && rm -rf /w/cache && mkdir /w/cache \\
    && echo n > /w/cache/n && chmod 700 /w/tool
"""
# By hand: deleted /w/big 300000 + /w/dir/x 8 + /w/cache/c 3; shadowed /w/small 4 + /w/tool 2000
# (the chmod copies it up); /w/hard's body still shows as /w/hard2: not wasted.
SHADOWED, DELETED = 4 + 2000, 300000 + 8 + 3


@pytest.fixture(scope="module", params=BUILDERS)
def waste_image(request, engine, test_learner, ping_base, tmp_path_factory):
    """The image above, built by each builder this engine has, under the session's learner."""
    dockerfile = WASTE.format(base=ping_base.reference)
    return build_by(request.param, engine, engine.namespace("t-waste"), "waste", dockerfile, tmp_path_factory)


# -- an independent count, from the saved tar's members ------------------------------------


def saved_layers(engine, reference) -> list[list[tarfile.TarInfo]]:
    """Every layer's tar members, bottom first, read with tarfile from `docker save`."""
    saved = io.BytesIO(b"".join(engine.save_image(engine.image(reference).id)))
    with tarfile.open(fileobj=saved) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        layers = []
        for name in manifest[0]["Layers"]:
            blob = io.BytesIO(archive.extractfile(name).read())
            with tarfile.open(fileobj=blob, mode="r:*") as layer:
                layers.append(layer.getmembers())
    return layers


def clean(name: str) -> str:
    return "/" + name.strip("/").removeprefix("./").strip("/")


def independent_waste(layers) -> dict[str, int]:
    """Merge the layers as overlayfs does; every stored body nobody shows, by why it went."""
    shown: dict[str, tuple[int, str]] = {}  # path -> (layer, what the body it shows is)
    lost = {"shadowed": 0, "deleted": 0}
    bodies: dict[tuple[int, str], int] = {}  # (layer, stored path) -> size

    def drop(root: str, keep_root: bool = False) -> None:
        for path in [p for p in shown if p.startswith(root + "/") or (p == root and not keep_root)]:
            del shown[path]

    removed: dict[tuple[int, str], str] = {}  # (layer, stored path) -> why it went
    for number, members in enumerate(layers):
        before = dict(shown)
        for member in members:
            path = clean(member.name)
            base = posixpath.basename(path)
            if base == ".wh..wh..opq":
                drop(posixpath.dirname(path), keep_root=True)
            elif base.startswith(".wh."):
                drop(posixpath.join(posixpath.dirname(path), base[4:]))
        for path, (layer, body) in before.items():
            if path not in shown:
                removed.setdefault((layer, body), "deleted")
        for member in members:
            path = clean(member.name)
            if posixpath.basename(path).startswith(".wh.") or path == "/":
                continue
            if path in shown and shown[path][0] != number:
                removed.setdefault(shown[path], "shadowed")
            if not member.isdir():
                for child in [p for p in shown if p.startswith(path + "/")]:
                    removed.setdefault(shown.pop(child), "shadowed")
            if member.islnk():
                shown[path] = (number, clean(member.linkname))
            else:
                shown[path] = (number, path)
                if member.isreg() and member.size:
                    bodies[(number, path)] = member.size
    visible = set(shown.values())
    for key, size in bodies.items():
        if key not in visible:
            lost[removed.get(key, "shadowed")] += size
    return lost


def independent_dive(layers) -> tuple[int, float]:
    """dive's Efficiency (dive/filetree/efficiency.go) on the raw members."""
    seen: dict[str, list[int]] = {}
    stacked: dict[str, tuple[bool, int]] = {}
    for members in layers:
        names = [clean(m.name) for m in members if posixpath.basename(clean(m.name)) != ".wh..wh..opq"]
        parents = {posixpath.dirname(n) for n in names}
        gone = []
        for member in members:
            path = clean(member.name)
            base = posixpath.basename(path)
            if base == ".wh..wh..opq" or path == "/":
                continue
            if base.startswith(".wh."):
                target = posixpath.join(posixpath.dirname(path), base[4:])
                is_dir = stacked.get(target, (False, 0))[0]
                size = sum(s for p, (_, s) in stacked.items() if p == target or p.startswith(target + "/")) if is_dir else 0
                seen.setdefault(target, []).append(size)
                gone.append(target)
            elif path not in parents:
                seen.setdefault(path, []).append(member.size if member.isreg() else 0)
        for target in gone:
            for p in [p for p in stacked if p == target or p.startswith(target + "/")]:
                del stacked[p]
        for member in members:
            path = clean(member.name)
            if not posixpath.basename(path).startswith(".wh.") and path != "/":
                stacked[path] = (member.isdir(), member.size if member.isreg() else 0)
    inefficient = sum(sum(sizes) for sizes in seen.values() if len(sizes) >= 2)
    total = sum(sum(sizes) for sizes in seen.values())
    return inefficient, (sum(min(s) for s in seen.values()) / total if total else 1.0)


# -- the tests -----------------------------------------------------------------------------


def layers_json(reference, learner, *extra):
    shown = run_cli("layers", reference, "--json", *extra, env={"LAYERLAB_LEARNER": learner})
    return shown, (json.loads(shown.stdout) if shown.stdout.strip() else {})


def test_layers_json_wasted_bytes_equal_an_independent_count(engine, waste_image, test_learner):
    shown, data = layers_json(waste_image, test_learner)
    assert shown.returncode == 0, shown.stderr
    layers = saved_layers(engine, waste_image)
    lost = independent_waste(layers)
    assert (data["wasted_shadowed_bytes"], data["wasted_deleted_bytes"]) == (lost["shadowed"], lost["deleted"])
    assert (data["wasted_shadowed_bytes"], data["wasted_deleted_bytes"]) == (SHADOWED, DELETED)
    assert data["wasted_bytes"] == SHADOWED + DELETED
    top = data["offenders"][0]
    assert (top["path"], top["size"], top["layer"], top["kind"]) == ("/w/big", 300000, 2, "deleted")
    assert top["instruction"].startswith("RUN mkdir -p /w/dir")
    assert data["entries"]  # the stack is still there beside the figures


def test_dive_score_equals_an_independent_count(engine, waste_image, test_learner):
    _, data = layers_json(waste_image, test_learner)
    layers = saved_layers(engine, waste_image)
    inefficient, efficiency = independent_dive(layers)
    assert data["dive_inefficient_bytes"] == inefficient
    assert data["dive_efficiency"] == pytest.approx(efficiency)
    # By hand: /w/big 300000+0, /w/small 4+6, /w/tool 2000+2000; /w/hard 5000+0 when the tar
    # stores the body under that name; /w/cache/c 3+0 when the engine wrote per-file whiteouts.
    top = [clean(m.name) for m in layers[1] if m.isreg()]
    per_file = any(clean(m.name) == "/w/cache/.wh.c" for m in layers[2])
    expected = 300000 + 10 + 4000 + (5000 if "/w/hard" in top else 0) + (3 if per_file else 0)
    assert data["dive_inefficient_bytes"] == expected


def test_ci_gate_exit_codes(waste_image, test_learner):
    env = {"LAYERLAB_LEARNER": test_learner}
    passing = run_cli("layers", waste_image, "--ci", "--max-wasted-bytes", str(SHADOWED + DELETED),
                      "--min-efficiency", "0.01", env=env)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert f"PASS  max-wasted-bytes: {SHADOWED + DELETED} B wasted" in passing.stdout
    failing = run_cli("layers", waste_image, "--ci", "--max-wasted-bytes", str(SHADOWED + DELETED - 1),
                      "--max-wasted-ratio", "0.99", env=env)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "FAIL  max-wasted-bytes" in failing.stdout and "PASS  max-wasted-ratio" in failing.stdout
    _, data = layers_json(waste_image, test_learner, "--ci", "--min-efficiency", "1")
    assert data["passed"] is False and data["verdicts"][0]["rule"] == "min-efficiency"
    assert run_cli("layers", waste_image, "--ci", env=env).returncode == 2
    missing = run_cli("layers", f"{waste_image}-missing", "--ci", "--min-efficiency", "0.5", env=env)
    assert missing.returncode == 2 and "no image" in missing.stderr
