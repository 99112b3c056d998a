"""Core tier: labels, names and the learner's namespace."""

import re

import pytest

from layerlab.core.naming import (
    LABEL_COURSE,
    LABEL_LEARNER,
    LABEL_LESSON,
    Namespace,
    course_dockerignore,
    is_ours,
    label_instruction,
    learner_id,
    sanitize,
)


def test_learner_from_environment_or_user(monkeypatch):
    assert learner_id({"LAYERLAB_LEARNER": "alice"}) == "alice"
    monkeypatch.setattr("getpass.getuser", lambda: "bob")
    assert learner_id({}) == "bob"


def test_sanitize_never_merges_distinct_ids():
    assert sanitize("alice") == "alice"
    assert sanitize("Bob") != sanitize("bob")
    assert re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", sanitize("Élodie Dupont!"))
    assert sanitize("///").startswith("learner-")


def test_namespace_names_and_labels():
    ns = Namespace("alice", "01-layers")
    assert ns.image("sample") == "layerlab-alice/01-layers-sample:latest"
    assert ns.labels() == {LABEL_COURSE: "layerlab", LABEL_LESSON: "01-layers", LABEL_LEARNER: "alice"}
    first, second = ns.container("demo"), ns.container("demo")
    assert first != second and first.startswith("layerlab-alice-01-layers-demo-")
    assert Namespace("bob", "01-layers").image("sample") != ns.image("sample")


def test_namespace_refuses_unsafe_ids():
    with pytest.raises(ValueError):
        Namespace("alice", "01 layers")
    with pytest.raises(ValueError):
        Namespace("Alice!", "01-layers")


def test_is_ours():
    labels = Namespace("alice", "01-layers").labels()
    assert is_ours(labels, "alice")
    assert is_ours(labels, "alice", "01-layers")
    assert not is_ours(labels, "alice", "02-cow")
    assert not is_ours(labels, "bob")
    assert not is_ours({}, "alice")
    assert not is_ours(None, "alice")


def test_one_label_instruction_for_all_labels_the_learner_last():
    labels = Namespace(learner="ana", lesson="01-layers").labels(**{"layerlab.base.built-from": 'Debian "x" $HOME'})
    line = label_instruction(labels)
    assert line == ('LABEL layerlab.course=layerlab layerlab.lesson=01-layers '
                    'layerlab.base.built-from="Debian \\"x\\" \\$HOME" layerlab.learner=ana')
    assert line.startswith("LABEL layerlab.")  # what the views recognise as the course's entry
    with pytest.raises(ValueError):
        label_instruction({"a key": "v"})


def test_the_course_dockerfile_is_dropped_like_the_clis_stdin_dockerfile():
    assert course_dockerignore(None) == ".dockerignore\n.layerlab.Dockerfile\n"
    assert course_dockerignore("*.log\n") == "*.log\n\n.layerlab.Dockerfile\n"
