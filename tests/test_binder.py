"""Binder: repo2docker reads binder/ as intended, from one source of truth."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support import ROOT, need


def test_binder_environment_is_the_root_environment():
    link = ROOT / "binder" / "environment.yml"
    assert link.is_symlink(), "binder/environment.yml must be a link to ../environment.yml"
    assert link.resolve() == (ROOT / "environment.yml").resolve()


def conda_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        match = re.match(r"^\s*-\s+([A-Za-z0-9_.-]+)", line)
        if match:
            names.add(match.group(1).lower())
    return names


def test_environment_has_the_same_set_as_pyproject_plus_the_graphviz_binary():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = conda_names((ROOT / "environment.yml").read_text())
    renamed = {"docker": "docker-py", "graphviz": "python-graphviz", "matplotlib": "matplotlib-base"}
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        if name in ("jupyter-repo2docker",):
            continue  # a test tool for this very check, not part of the course
        assert renamed.get(name, name) in conda, f"{name} is in pyproject.toml but not in environment.yml"
    assert "graphviz" in conda, "the graphviz binary (dot) for the sharing diagrams"


def test_repo2docker_reads_the_binder_folder():
    repo2docker = shutil.which("repo2docker") or str(Path(sys.executable).parent / "repo2docker")
    need(Path(repo2docker).exists(), "jupyter-repo2docker is not installed")
    result = subprocess.run([repo2docker, "--no-build", "--debug", str(ROOT)], capture_output=True, text=True, timeout=300)
    dockerfile = result.stdout + result.stderr
    assert result.returncode == 0, dockerfile[-2000:]
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "binder/environment.yml"' in dockerfile
    assert "./binder/postBuild" in dockerfile
    # binder/ is the only folder read: no root-level environment file is used.
    assert '--file "environment.yml"' not in dockerfile


def test_postbuild_installs_the_course_and_opens_the_first_lesson():
    script = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps" in script and "-e ." in script
    assert "/lab/tree/notebooks/00-setup.ipynb" in script
    assert (ROOT / "notebooks" / "00-setup.ipynb").exists()


def test_readme_has_a_binder_badge_to_the_first_lesson():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(https://mybinder\.org/v2/gh/[^)]*urlpath=lab/tree/notebooks/00-setup\.ipynb\)", readme)
