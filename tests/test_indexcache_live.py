"""Engine tier: the per-layer index cache against the engine's own `docker save`.

For the test images of `test_layers_live` (the app base, the sample app, the edits image of
each builder): an index from the cache equals one read from the engine with no cache, a warm
look makes no `docker save` at all (the engine's save method is counted), and a partial miss
makes one save. The cache is this test's own folder (LAYERLAB_INDEX_CACHE=PATH).
"""

from __future__ import annotations

import json

import pytest

from layerlab.core.engineinfo import StorageKind
from layerlab.core.indexcache import CACHE_ENV, IndexCache
from layerlab.engine.layerindex import index_image
from test_layers_live import edits_image, namespace, sample_image  # noqa: F401 (fixtures)

from support import run_cli

pytestmark = pytest.mark.engine


@pytest.fixture
def counted(engine, monkeypatch, tmp_path):
    """The engine with its cache in tmp_path, and a list of the images it was asked to save."""
    saves = []
    real = engine.save_image

    def save_image(image_id, *args, **kwargs):
        saves.append(image_id)
        return real(image_id, *args, **kwargs)

    monkeypatch.setattr(engine, "save_image", save_image)
    monkeypatch.setitem(engine.environ, CACHE_ENV, str(tmp_path / "index"))
    return engine, saves, IndexCache(tmp_path / "index")


def look(engine, reference, cache: str | None = None):
    if cache is not None:
        engine.environ[CACHE_ENV] = cache
    return index_image(engine, engine.image(reference), reference)


@pytest.fixture(params=["app base", "sample", "edits"])
def test_image(request, app_base, sample_image, edits_image):  # noqa: F811
    return {"app base": app_base.reference, "sample": sample_image, "edits": edits_image}[request.param]


def test_warm_looks_make_no_save_and_equal_an_uncached_index(counted, test_image):
    engine, saves, _ = counted
    folder = engine.environ[CACHE_ENV]
    uncached = look(engine, test_image, cache="off")
    cold = look(engine, test_image, cache=folder)
    del saves[:]
    warm = look(engine, test_image)
    assert saves == []  # inspect only: no `docker save`
    assert warm.cached and not uncached.cached
    assert warm == uncached and warm.as_dict() == uncached.as_dict() and cold.as_dict() == uncached.as_dict()
    for layer in uncached.layers:
        for change in layer.changes[:50]:
            assert warm.which(change.path).as_dict() == uncached.which(change.path).as_dict()
    stack = engine.image_stack(test_image)  # exact (config flags): the cached config, still no save
    assert saves == [] and stack.diff_ids == tuple(engine.image(test_image).diff_ids)


def test_a_partial_miss_makes_one_save_and_reads_only_the_new_layer(counted, edits_image):  # noqa: F811
    engine, saves, cache = counted
    first = look(engine, edits_image)
    top = first.layers[-1].diff_id
    cache.path_for("layers", top).unlink()
    del saves[:]
    again = look(engine, edits_image)
    assert len(saves) == 1
    assert again == first and len(again.layers) - 1 not in again.cached_layers
    if engine.facts.storage_kind is not StorageKind.CONTAINERD:
        # overlay2: blobs are named by diff id (OCI) or known by alias (legacy): the rest were skipped
        assert set(again.cached_layers) == set(range(len(again.layers))) - {len(again.layers) - 1}
    assert cache.layer(top) is not None


def test_images_share_their_cached_layers(counted, app_base, sample_image):  # noqa: F811
    engine, saves, _ = counted
    base = look(engine, app_base.reference)
    sample = look(engine, sample_image)
    assert sample.layers[0].diff_id == base.layers[0].diff_id
    assert sample == look(engine, sample_image, cache="off")
    if engine.facts.storage_kind is not StorageKind.CONTAINERD and sample.format == "oci":
        # Docker 25+: a layer's blob is named by its diff id, so the base's layer is skipped. (Docker
        # 20.10 names it by a v1 id that differs from image to image; containerd by its gzip digest.)
        assert 0 in sample.cached_layers


def test_the_cli_says_cached_in_its_json_and_on_stderr(engine, sample_image, tmp_path):  # noqa: F811
    env = {CACHE_ENV: str(tmp_path / "index")}
    cold = run_cli("layers", sample_image, "--json", env=env)
    warm = run_cli("layers", sample_image, "--json", env=env)
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    first, second = json.loads(cold.stdout), json.loads(warm.stdout)
    assert first["cached"] is False and second["cached"] is True
    assert "from the index cache" in warm.stderr and "from the index cache" not in cold.stderr
    for data in (first, second):
        data.pop("cached"), data.pop("cached_layers")
    assert first == second
    plain = run_cli("layers", sample_image, env=env)
    assert plain.returncode == 0 and plain.stdout == run_cli("layers", sample_image, env={CACHE_ENV: "off"}).stdout
