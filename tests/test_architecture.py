"""The package's layers, and what each may import (see README, "How the code is laid out").

    core     the pure model: parsing, the rules, the teaching text      imports core only
    replay   recordings, the replay server, the source protocol         core, replay
    host     this machine's work for stand-in bases (debootstrap, ...)  core, host
    engine   the Docker adapter: `Engine`, the one door to the SDK      core, replay, host, engine
    views    drawings and widgets of core objects                        core, views
    edition  the notebooks' Korean edition: units, catalogs, twins     core, replay, edition
    course   one module per lesson: demos, walkthroughs, orchestration  all but cli
    classroom  the instructor service, its hub config, the server extension  core, engine, classroom
    cli      `python -m layerlab`                                        all

Only the engine's door modules import `docker`; only views import `ipywidgets`; core and host
import nothing outside the standard library. Imports inside functions count as much as those
at the top.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "widgets" / "layerlab"

ALLOWED = {
    "core": {"core"},
    "replay": {"core", "replay"},
    "host": {"core", "host"},
    "engine": {"core", "replay", "host", "engine"},
    "views": {"core", "views"},
    "edition": {"core", "replay", "edition"},
    "course": {"core", "replay", "host", "engine", "views", "course"},
    "classroom": {"core", "engine", "classroom"},
    "cli": {"core", "replay", "host", "engine", "views", "course", "classroom", "edition", "cli", ""},
}
#: The engine door: the only modules that import the docker SDK.
DOOR = {"engine/engine.py", "engine/images.py", "engine/containers.py", "engine/building.py", "engine/system.py",
        "engine/refusals.py", "engine/connection.py", "engine/sdk.py", "engine/socketapi.py"}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def imported(path: Path) -> list[str]:
    """Every module `path` imports, as an absolute dotted name."""
    package = ["layerlab", *path.relative_to(PACKAGE).parent.parts]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module or "")
    return names


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def test_every_package_module_is_in_a_known_layer():
    layers = {layer_of(p) for p in modules()}
    assert layers - {""} <= set(ALLOWED) | {"lessons"}, layers


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_layer_imports_only_what_it_may(path):
    layer = layer_of(path)
    if layer in ("", "lessons"):
        return  # the package's own entry points import lazily, from anywhere
    wrong = []
    for name in imported(path):
        if name.startswith("layerlab"):
            target = name.split(".")[1] if name.count(".") else ""
            target = "" if target in ("__main__",) or (PACKAGE / f"{target}.py").exists() else target
            if target not in ALLOWED[layer]:
                wrong.append(name)
        top = name.split(".")[0]
        if top == "docker" and str(path.relative_to(PACKAGE)) not in DOOR:
            wrong.append(name + " (only the engine door imports docker)")
        if top == "ipywidgets" and layer != "views":
            wrong.append(name + " (only views import ipywidgets)")
        if layer in ("core", "host") and top not in sys.stdlib_module_names and top not in ("layerlab", "__future__"):
            wrong.append(name + f" ({layer} uses the standard library only)")
    assert not wrong, f"{path.relative_to(PACKAGE)} ({layer}) may not import {wrong}"


def test_the_rules_above_would_catch_a_view_reaching_for_the_engine(tmp_path):
    """The checker itself: a view importing the engine adapter is found."""
    bad = PACKAGE / "views" / "_probe_for_test.py"
    bad.write_text("from ..engine.watch import CopyUpWatcher\nimport docker\n")
    try:
        with pytest.raises(AssertionError, match="may not import"):
            test_each_layer_imports_only_what_it_may(bad)
    finally:
        bad.unlink()


def test_no_sdk_call_outside_the_door():
    """Nothing but the door reaches the SDK's client (`.client.api`, private `_get`/`_url`/`_result`)."""
    wrong = []
    for path in modules():
        if str(path.relative_to(PACKAGE)) in DOOR:
            continue
        text = path.read_text()
        for needle in (".client.api", ".client.containers", ".client.images", "._url(", "._get(", "._result("):
            if needle in text:
                wrong.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert not wrong, wrong


def test_no_module_or_function_over_the_size_limits():
    too_big = []
    for path in modules():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines")
    assert not too_big, too_big


def test_nobody_asks_an_engine_whether_it_is_live_by_getattr():
    wrong = [str(p.relative_to(PACKAGE)) for p in modules() if 'getattr(engine, "live"' in p.read_text()
             or 'getattr(self.engine, "live"' in p.read_text()]
    assert not wrong, wrong


def test_each_notebook_imports_the_course_through_its_lesson_module_only():
    """A lesson's code cells reach the package through `layerlab` (to start the lesson) and one
    module of `layerlab.course`; no two lessons share a module."""
    import nbformat

    notebooks = sorted((PACKAGE.parent.parent / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert len(notebooks) >= 6
    used = {}
    for path in notebooks:
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        reached = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("layerlab"):
                reached.add(node.module)
            elif isinstance(node, ast.Import):
                reached |= {a.name for a in node.names if a.name.startswith("layerlab")}
        course = {name for name in reached if name.startswith("layerlab.course.")}
        assert reached - course <= {"layerlab"}, f"{path.name} imports {sorted(reached - course - {'layerlab'})}"
        assert len(course) == 1, f"{path.name} imports the course through {sorted(course)}"
        used[path.name] = course.pop()
    assert len(set(used.values())) == len(used), used
