"""Engine tier: cleanup removes exactly the course's objects of this learner, nothing else.

Decoys are made first: unlabeled objects (one even named like the learner's own images, to
prove nothing is removed by name pattern) and another learner's labeled objects. Then lesson
objects and bases are made, and `cleanup --lesson`, `cleanup` and `cleanup --all` run.
"""

import io
import secrets
import tarfile

import docker.errors
import pytest

from support import run_cli
from layerlab.core.naming import Namespace, learner_filters
from layerlab.core.workspace import context_dir

pytestmark = pytest.mark.engine


def tiny_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("decoy.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"decoy"))
    return buffer.getvalue()


def labeled_ids(client, learner):
    filters = {"label": learner_filters(learner)}
    return {
        "containers": {c.id for c in client.containers.list(all=True, filters=filters)},
        "images": {i.id for i in client.images.list(filters=filters)},
        "volumes": {v.name for v in client.volumes.list(filters=filters)},
        "networks": {n.id for n in client.networks.list(filters=filters)},
    }


def make_lesson_objects(engine, learner, lesson, ping_reference, tmp_path):
    ns = Namespace(learner, lesson)
    client = engine.client
    folder = context_dir(ns, "ctx", engine.environ)
    (folder / "Dockerfile").write_text(f"FROM {ping_reference}\nRUN echo {lesson} > /lesson\n")
    image_id = engine.build(ns, "img", folder)
    running = engine.run(ns, "sleeper", image_id, ["sleep", "300"])
    volume = client.volumes.create(ns.volume("data"), labels=ns.labels())
    network = client.networks.create(ns.network("net"), driver="bridge", internal=True, labels=ns.labels())
    return {"image": image_id, "container": running.id, "volume": volume.name, "network": network.id, "folder": folder}


def exists(client, kind, ident):
    getter = {"image": client.images.get, "container": client.containers.get,
              "volume": client.volumes.get, "network": client.networks.get}[kind]
    try:
        getter(ident)
        return True
    except docker.errors.NotFound:
        return False


def test_cleanup_removes_exactly_the_course_objects(engine, tmp_path):
    client = engine.client
    learner = f"cleanup-{secrets.token_hex(3)}"
    other = f"other-{secrets.token_hex(3)}"
    env = {"LAYERLAB_LEARNER": learner, "LAYERLAB_WORK": str(tmp_path / "work")}
    saved_env = dict(engine.environ)
    engine.environ.update(env)
    decoys = {}
    try:
        # Unlabeled objects, one of them named like this learner's own images.
        decoy_repo = f"layerlab-{learner}/decoy"
        client.api.import_image_from_data(tiny_tar(), repository=decoy_repo, tag="1")
        decoys["image"] = client.images.get(f"{decoy_repo}:1").id
        decoys["container"] = client.containers.create(
            f"{decoy_repo}:1", ["/decoy.txt"], name=f"layerlab-{learner}-decoy", network_mode="none").id
        decoys["volume"] = client.volumes.create(f"layerlab-{learner}-decoy").name

        prepared = run_cli("prepare", env=env)
        assert prepared.returncode == 0, prepared.stderr
        ping = [line.split()[3] for line in prepared.stdout.splitlines() if line.startswith("base for ping:")][0]

        theirs = make_lesson_objects(engine, other, "l1", ping, tmp_path)  # another learner's
        lesson1 = make_lesson_objects(engine, learner, "l1", ping, tmp_path)
        lesson2 = make_lesson_objects(engine, learner, "l2", ping, tmp_path)
        bases_before = {i.id for i in client.images.list(filters={"label": learner_filters(learner) + ["layerlab.lesson=base"]})}
        assert len(bases_before) == 2

        result = run_cli("cleanup", "--lesson", "l1", env=env)
        assert result.returncode == 0, result.stderr
        assert "removed container" in result.stdout and "removed image" in result.stdout
        assert "removed volume" in result.stdout and "removed network" in result.stdout
        for kind in ("image", "container", "volume", "network"):
            assert not exists(client, kind, lesson1[kind]), kind
            assert exists(client, kind, lesson2[kind]), kind
        assert not lesson1["folder"].exists() and lesson2["folder"].exists()
        assert labeled_ids(client, learner)["images"] >= bases_before

        result = run_cli("cleanup", env=env)
        assert result.returncode == 0, result.stderr
        for kind in ("image", "container", "volume", "network"):
            assert not exists(client, kind, lesson2[kind]), kind
        assert labeled_ids(client, learner)["images"] == bases_before, "bases survive a lesson cleanup"

        result = run_cli("cleanup", "--all", env=env)
        assert result.returncode == 0, result.stderr
        assert labeled_ids(client, learner) == {"containers": set(), "images": set(), "volumes": set(), "networks": set()}

        for kind, ident in decoys.items():
            assert exists(client, kind, ident), f"unlabeled {kind} was touched"
        for kind in ("image", "container", "volume", "network"):
            assert exists(client, kind, theirs[kind]), f"another learner's {kind} was touched"
        again = run_cli("cleanup", "--all", env=env)
        assert "nothing to remove" in again.stdout
    finally:
        engine.environ.clear()
        engine.environ.update(saved_env)
        # The test's own decoys and the other learner's objects, by id.
        for kind, ident in (("container", decoys.get("container")), ("volume", decoys.get("volume")), ("image", decoys.get("image"))):
            if ident:
                try:
                    {"container": lambda: client.containers.get(ident).remove(force=True),
                     "volume": lambda: client.volumes.get(ident).remove(),
                     "image": lambda: client.images.remove(ident, force=True)}[kind]()
                except docker.errors.NotFound:
                    pass
        from layerlab.engine.cleanup import cleanup

        for who in (other, learner):  # also this learner's, should an assertion have failed midway
            engine.environ["LAYERLAB_LEARNER"] = who
            try:
                cleanup(engine, include_bases=True)
            finally:
                engine.environ.clear()
                engine.environ.update(saved_env)


def test_a_lesson_cleanup_leaves_none_of_its_builds_step_images(engine, tmp_path):
    """The classic builder makes an image per step. overlay2 keeps them as the final image's
    untagged parents, removed with it; the containerd image store lists them as images of
    their own, labeled like the base (the course's labels come last). Either way, none of the
    images this build made outlives the lesson's cleanup."""
    learner = f"steps-{secrets.token_hex(3)}"
    env = {"LAYERLAB_LEARNER": learner, "LAYERLAB_WORK": str(tmp_path / "work")}
    saved_env = dict(engine.environ)
    engine.environ.update(env)
    client = engine.client
    try:
        prepared = run_cli("prepare", env=env)
        assert prepared.returncode == 0, prepared.stderr
        ping = [line.split()[3] for line in prepared.stdout.splitlines() if line.startswith("base for ping:")][0]
        base_id = client.images.get(ping).id
        ns = Namespace(learner, "steps")
        folder = context_dir(ns, "ctx", engine.environ)
        token = secrets.token_hex(4)  # no build of anyone else's can be a cache hit for these
        (folder / "Dockerfile").write_text(f"FROM {ping}\nRUN echo {token} > /a\nRUN echo {token} > /b\n")
        lines = []
        image_id = engine.build(ns, "img", folder, on_line=lines.append)
        made = {line.split()[1] for line in lines if line.strip().startswith("---> ") and len(line.split()) == 2}
        made = {client.images.get(short).id for short in made} - {base_id}
        assert image_id in made and len(made) >= 3, lines  # two RUN steps and the course's labels

        result = run_cli("cleanup", "--lesson", "steps", env=env)
        assert result.returncode == 0, result.stderr
        left = {ident for ident in made if exists(client, "image", ident)}
        assert not left, f"step images left after the lesson's cleanup: {left}\n{result.stdout}"
        assert exists(client, "image", base_id), "the base stays"
    finally:
        from layerlab.engine.cleanup import cleanup

        try:
            cleanup(engine, include_bases=True)
        finally:
            engine.environ.clear()
            engine.environ.update(saved_env)
