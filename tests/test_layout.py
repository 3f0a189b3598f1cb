"""The code's layout rules (docs/architecture.md), checked on the source with ``ast``:

- no module imports a private name (leading underscore) of another softscope module;
- the package's import graph has no cycle, lazy imports inside functions included (a
  package importing its own submodules is not an edge);
- scripts/ holds only the set-up scripts; studies live in studies/<topic>/ with a README;
- no absolute path of a development machine anywhere in the tracked text files.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ROOT / "softscope"


def _python_files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@pytest.mark.parametrize("where", ["softscope", "studies", "benchmarks", "examples"])
def test_no_private_names_imported_across_modules(where):
    bad = []
    for path in _python_files(where):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("softscope"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}")
    assert not bad, bad


def _imports(path: Path, modules: set[str]) -> set[str]:
    """softscope modules ``path`` imports anywhere (also inside functions), except in
    ``if TYPE_CHECKING:`` blocks (annotations only, never imported at run time)."""
    out: set[str] = set()
    me = _module_name(path)

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out.update(n for n in names if n in modules and n != me)
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(ast.parse(path.read_text()))
    return out


def test_package_import_graph_has_no_cycle():
    files = {_module_name(p): p for p in _python_files("softscope")}
    graph = {m: _imports(p, set(files)) for m, p in files.items()}
    # a package's __init__ importing its own submodules is not a cycle of concern
    for m in graph:
        graph[m] = {d for d in graph[m] if not (m and d.startswith(m + "."))}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d) :] + [d] if d in stack else [m, d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_scripts_hold_only_set_up_and_studies_have_readmes():
    scripts = sorted(p.name for p in (ROOT / "scripts").iterdir())
    assert scripts == ["main.sh", "make_zoo.sh", "test.sh"]
    topics = [d for d in (ROOT / "studies").iterdir() if d.is_dir() and d.name != "__pycache__"]
    assert topics
    for d in topics:
        assert (d / "README.md").is_file(), d
        assert (d / f"{d.name}.py").is_file(), d


def test_no_machine_paths_in_the_repository():
    try:
        files = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    pattern = re.compile(r"(?<![\w.])/(work|check|home/\w+|Users/\w+)/")
    bad = []
    for f in files:
        p = ROOT / f
        if p.suffix not in {".py", ".md", ".sh", ".toml", ".txt", ".cpp", ".h", ".json", ""}:
            continue
        if not p.is_file() or p.stat().st_size > 2_000_000:
            continue
        for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line):
                bad.append(f"{f}:{i}: {line.strip()[:100]}")
    assert not bad, bad
