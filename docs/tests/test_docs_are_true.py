"""The docs name only what exists: repo paths, nox sessions, Python modules, no outside files.

Every Markdown file git tracks is read. A path in backticks counts when it looks like a repo path
(a file with an extension, or a folder path that starts at a top-level folder of the repo); it
must exist from the repo root or from the Markdown file's folder, or be an output git ignores.
A bare file name must be the name of a file in the repo, and `path.py: name()` a function or
class that file defines. Commands in backticks or code
blocks must name a nox session that exists and a module that `python -m` can run.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

INLINE_CODE = re.compile(r"`([^`\n]+)`")
FENCED_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
REPO_PATH = re.compile(
    r"^(\./)?[\w.-]+(/[\w.*-]+)+/?$|^[\w-]+\.(py|md|toml|yaml|yml|json|sh|html)$"
)
FILE_EXTENSION = re.compile(r"\.(py|md|toml|yaml|yml|json|sh|html|txt|lock|in|proto|pyi|tpl|cfg)$")
NOX_SESSION = re.compile(r"(?:\./noxw|\bnox)\s+-s\s+([\w-]+)")
PYTHON_MODULE = re.compile(r"(?:^|\s)(?:PYTHONPATH=(\S+)\s+)?\S*python3?\s+-m\s+([\w.]+)")
PYTHON_SYMBOL = re.compile(r"^([\w./-]+\.py): (\w+)\(")
OUTSIDE_THE_REPO = re.compile(r"\.\./shared|ARCHITECTURE\.md")


def tracked(pattern: str) -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", pattern], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return listing.stdout.split()


MARKDOWN = tracked("*.md")
TRACKED = tracked("*")
TOP_LEVEL = {name.split("/")[0] for name in TRACKED}
BASENAMES = {name.rsplit("/", 1)[-1] for name in TRACKED}


def code_spans(text: str) -> Iterator[str]:
    yield from INLINE_CODE.findall(text)
    for block in FENCED_BLOCK.findall(text):
        yield from block.splitlines()


def named_paths(text: str) -> Iterator[str]:
    for span in INLINE_CODE.findall(text):
        if not REPO_PATH.match(span) or span.startswith("/"):
            continue
        first = span.removeprefix("./").split("/")[0]
        if first in TOP_LEVEL or FILE_EXTENSION.search(span):
            yield span


def is_ignored(path: str) -> bool:
    """A path git ignores is an output the docs point to (`artifacts/...`), made by a run."""
    check = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT)
    return check.returncode == 0


def exists(path: str, markdown: Path) -> bool:
    if "/" not in path:
        return path in BASENAMES
    if is_ignored(path):
        return True
    for base in (REPO_ROOT, markdown.parent):
        if "*" in path:
            if any(base.glob(path.removeprefix("./"))):
                return True
        elif (base / path).exists():
            return True
    return False


def nox_sessions() -> set[str]:
    tree = ast.parse((REPO_ROOT / "noxfile.py").read_text())
    names = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        for decorator in function.decorator_list:
            if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "nox.session":
                keywords = {keyword.arg: keyword.value for keyword in decorator.keywords}
                name = keywords.get("name")
                names.add(ast.literal_eval(name) if name else function.name)
    return names


def module_runs(module: str, pythonpath: str | None) -> bool:
    extra = [str(REPO_ROOT / part) for part in pythonpath.split(":")] if pythonpath else []
    saved = list(sys.path)
    sys.path[:0] = extra
    try:
        top = module.split(".")[0]
        if importlib.util.find_spec(top) is None:
            return False
        spec = importlib.util.find_spec(module)
        if spec is None:
            return False
        if spec.submodule_search_locations is not None:
            return importlib.util.find_spec(f"{module}.__main__") is not None
        return True
    except ModuleNotFoundError:
        return False
    finally:
        sys.path[:] = saved


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_named_paths_exist(markdown: str) -> None:
    path = REPO_ROOT / markdown
    missing = sorted({name for name in named_paths(path.read_text()) if not exists(name, path)})
    assert not missing, f"{markdown} names paths that do not exist: {missing}"


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_named_functions_are_defined_where_named(markdown: str) -> None:
    """`path.py: name()` names a function or class that `path.py` defines."""
    missing = []
    for span in INLINE_CODE.findall((REPO_ROOT / markdown).read_text()):
        match = PYTHON_SYMBOL.match(span)
        if not match:
            continue
        path, name = match.groups()
        source = REPO_ROOT / path
        defined = source.is_file() and re.search(
            rf"^\s*(async def|def|class) {name}\b", source.read_text(), re.MULTILINE
        )
        if not defined:
            missing.append(span)
    assert not missing, f"{markdown} names functions their files do not define: {missing}"


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_named_nox_sessions_exist(markdown: str) -> None:
    sessions = nox_sessions()
    named = {
        session
        for span in code_spans((REPO_ROOT / markdown).read_text())
        for session in NOX_SESSION.findall(span)
    }
    assert named <= sessions, f"{markdown} names unknown sessions: {sorted(named - sessions)}"


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_named_python_modules_run(markdown: str) -> None:
    broken = sorted(
        {
            f"python -m {module}"
            for span in code_spans((REPO_ROOT / markdown).read_text())
            for pythonpath, module in PYTHON_MODULE.findall(span)
            if not module_runs(module, pythonpath or None)
        }
    )
    assert not broken, f"{markdown} names modules that `python -m` cannot run: {broken}"


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_commands_use_only_environments_the_project_makes(markdown: str) -> None:
    text = (REPO_ROOT / markdown).read_text()
    assert ".venv/bin/" not in text, (
        f"{markdown} runs commands from `.venv/`, which nothing in the project creates; "
        "name the nox session instead (`./noxw -s tests -- ...`)"
    )


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_docs_stay_inside_the_repo(markdown: str) -> None:
    found = OUTSIDE_THE_REPO.findall((REPO_ROOT / markdown).read_text())
    assert not found, f"{markdown} points outside the repo: {found}"


def test_the_checks_see_the_docs() -> None:
    assert "README.md" in MARKDOWN
    assert len(MARKDOWN) >= 5
