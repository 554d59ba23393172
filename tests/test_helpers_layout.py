"""The helpers package as a new maintainer meets it: no module named like the standard library's, no import circle,
answer checks ordered by notebook, and every public function used by a notebook, a tool or another helper."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELPERS = sorted(p for p in (ROOT / "helpers").glob("*.py") if p.stem != "__init__")


def _helper_imports(path: Path) -> set[str]:
    """Helpers modules that ``path`` imports at run time, at the top or inside a function (TYPE_CHECKING blocks skipped)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "helpers":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("helpers.")}
    return found - {path.stem}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle in ``graph`` as a list of module names, or an empty list."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_helper_module_shadows_the_standard_library():
    shadowing = [p.name for p in HELPERS if p.stem in sys.stdlib_module_names]
    assert not shadowing, f"rename {shadowing}: inside a notebook `from helpers import X` hides the standard library's X"


def test_helpers_import_each_other_without_a_circle():
    graph = {p.stem: _helper_imports(p) for p in HELPERS}
    assert graph["session"] >= {"profiles", "machine", "data"}, "the import reader missed session's imports"
    assert not (circle := _cycle(graph)), " -> ".join(circle)


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"checks": {"data"}, "data": {"profile"}, "profile": {"data"}}) == ["data", "profile", "data"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_answer_checks_are_ordered_by_notebook():
    source = (ROOT / "helpers" / "exercises.py").read_text()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    texts = {nb.name[:2]: nb.read_text() for nb in notebooks}
    order = []
    for name in re.findall(r"^def (check_\w+)", source, flags=re.M):
        users = [number for number, text in texts.items() if f"exercises.{name}(" in text]
        assert users, f"exercises.{name} is used by no notebook"
        order.append((min(users), name))
    assert order == sorted(order, key=lambda pair: pair[0]), order


def test_every_public_helper_is_used_somewhere():
    users = [p.read_text() for p in (ROOT / "notebooks").glob("*.ipynb")]
    users += [p.read_text() for p in (*HELPERS, ROOT / "helpers" / "__init__.py", *(ROOT / "tools").glob("*.py"), *(ROOT / "benchmarks").glob("*.py"),
                                      ROOT / "binder" / "prefetch.py", ROOT / "Makefile", ROOT / "README.md")]
    unused = []
    for path in HELPERS:
        for name in re.findall(r"^def ([a-z]\w*)", path.read_text(), flags=re.M):
            calls = sum(len(re.findall(rf"\b{name}\b", text)) for text in users)
            if calls <= 1:  # its own definition only
                unused.append(f"{path.stem}.{name}")
    assert not unused, unused
