"""Engine-door behaviour that needs no engine: a fake SDK client stands in for one (the
door is the one place the SDK is used, so its own tests fake the SDK)."""

from __future__ import annotations

import docker.errors
import pytest

from layerlab.core.engineinfo import EngineFacts, StorageKind
from layerlab.core.errors import EngineRefused
from layerlab.engine.engine import Engine
from layerlab.engine.sources import LiveSource

FACTS = EngineFacts(host="unix:///fake.sock", host_source="test", engine_version="20.10.24", api_version="1.41",
                    min_api_version="1.12", storage_driver="overlay2", storage_kind=StorageKind.OVERLAY2, os="linux",
                    arch="amd64", kernel="6.1", buildkit=False, buildx_version="", cgroup_version="2")


class Api:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def df(self):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Client:
    def __init__(self, api):
        self.api = api


def conflict(message):
    return docker.errors.APIError("409 Client Error", explanation=message)


def test_disk_usage_waits_out_another_learners_computation():
    """Docker 20.10 answers a second concurrent `system df` with 409; the course asks again."""
    api = Api([conflict("a disk usage operation is already running"),
               conflict("a disk usage operation is already running"), {"Images": []}])
    engine = Engine(LiveSource(FACTS), FACTS, {}, client=Client(api))
    assert engine.disk_usage() == {"Images": []} and api.calls == 3


def test_disk_usage_gives_up_within_its_bound_and_passes_other_errors_at_once(monkeypatch):
    busy = Api([conflict("a disk usage operation is already running")] * 100)
    engine = Engine(LiveSource(FACTS), FACTS, {}, client=Client(busy))
    monkeypatch.setattr(Engine, "DISK_USAGE_WAIT", 0.5)
    with pytest.raises(EngineRefused, match="already running"):
        engine.disk_usage()
    assert 1 < busy.calls < 6
    other = Api([docker.errors.APIError("500 Server Error", explanation="no space left on device")])
    with pytest.raises(EngineRefused, match="no space left"):
        Engine(LiveSource(FACTS), FACTS, {}, client=Client(other)).disk_usage()
    assert other.calls == 1


def test_the_build_context_is_sent_as_the_cli_sends_it_owned_by_root_and_filtered(tmp_path):
    """The classic builder's COPY checksum covers the owners the daemon sees: the context goes
    out owned by 0:0 (as the docker CLI sends it), whoever wrote the files."""
    import os
    import tarfile

    from layerlab.engine.building import context_archive

    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (tmp_path / ".dockerignore").write_text("# kept out\nNOTES.md\n")
    (tmp_path / "NOTES.md").write_text("not sent\n")
    (tmp_path / "app.txt").write_text("sent\n")
    if os.geteuid() == 0:
        os.chown(tmp_path / "app.txt", 1234, 1234)
    with context_archive(tmp_path) as archive, tarfile.open(fileobj=archive) as sent:
        members = {m.name: m for m in sent.getmembers()}
        assert set(members) == {"Dockerfile", ".dockerignore", "app.txt"}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "", "")}
        assert sent.extractfile(members["app.txt"]).read() == b"sent\n"


def test_the_course_dockerfile_rides_in_the_context_and_the_dockerignore_names_it(tmp_path):
    """The course's labels go in a Dockerfile of its own, named in `.dockerignore` as `docker
    build -f - .` names its stdin Dockerfile; the learner's Dockerfile follows their own list."""
    import tarfile

    from layerlab.core.naming import COURSE_DOCKERFILE
    from layerlab.engine.building import context_archive, labeled_dockerfile

    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (tmp_path / "app.txt").write_text("sent\n")
    text = labeled_dockerfile(tmp_path, "Dockerfile", {"layerlab.course": "layerlab", "layerlab.learner": "ana"})
    assert text == "FROM scratch\nCOPY . /app\nLABEL layerlab.course=layerlab layerlab.learner=ana\n"

    def sent(course_dockerfile):
        with context_archive(tmp_path, course_dockerfile) as archive, tarfile.open(fileobj=archive) as tar:
            return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}

    # No .dockerignore of the learner's: one that lists itself and the course's file.
    files = sent(text)
    assert files[COURSE_DOCKERFILE] == text and files["Dockerfile"].startswith("FROM scratch")
    assert files[".dockerignore"].split() == [".dockerignore", COURSE_DOCKERFILE]
    # The learner's own list: kept, one line added; what it names is not sent.
    (tmp_path / ".dockerignore").write_text("Dockerfile\n")
    files = sent(text)
    assert "Dockerfile" not in files and files[".dockerignore"] == f"Dockerfile\n\n{COURSE_DOCKERFILE}\n"
    assert set(sent(None)) == {".dockerignore", "Dockerfile", "app.txt"}  # without it, as before
