"""The bootstrap runs in nox's own interpreter, before anything is installed: stdlib only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import tools.bootstrap

BOOTSTRAP = Path(tools.bootstrap.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_bootstrap_imports_only_the_standard_library_and_itself():
    modules = sorted(BOOTSTRAP.glob("*.py"))
    assert len(modules) > 5
    outside = {
        f"{path.name}: {name}"
        for path in modules
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "tools.bootstrap"
        and not name.startswith("tools.bootstrap.")
    }
    assert not outside, f"the bootstrap must stay standard library only: {sorted(outside)}"
