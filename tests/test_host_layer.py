"""The host layer (`layerlab.host`) does work on this machine for stand-in bases and nothing
else: it imports only the standard library and `layerlab.core`, never `docker` or the engine."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import layerlab.host

HOST = Path(layerlab.host.__file__).parent


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def test_the_host_layer_imports_only_the_standard_library_and_the_core():
    wrong = []
    for path in sorted(HOST.rglob("*.py")):
        for module, level in _imports(path):
            if level:  # relative: ..core is fine, anything else (..engine, ..views) is not
                ok = level == 1 or (level == 2 and (module == "core" or module.startswith("core.")))
            else:
                top = module.split(".")[0]
                ok = top in sys.stdlib_module_names or module == "layerlab.core" or module.startswith("layerlab.core.")
            if not ok:
                wrong.append(f"{path.name}: {'.' * level}{module}")
    assert wrong == []
