"""Every committed notebook follows the course's format: badge and Colab cell agree with pyproject's URL, outputs
stripped except NBVAL_CHECK_OUTPUT cells (which nbval will really compare), no machine paths, the shared skeleton."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtool  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist_in_order():
    names = [p.name for p in NOTEBOOKS]
    assert names[0] == "00_start_here.ipynb"
    assert [n[:2] for n in names] == sorted(n[:2] for n in names)


def _size(path: Path) -> tuple[int, int]:
    """(cells, words of markdown) of a notebook."""
    cells = nbformat.read(path, as_version=4).cells
    return len(cells), sum(len(c.source.split()) for c in cells if c.cell_type == "markdown")


@pytest.mark.parametrize("number", ["03", "04"])
def test_the_vgg16_notebooks_make_their_point_in_35_cells_and_1800_words(number):
    """03 and 04 follow the sources' lesson; seeing inside the models is notebook 08's (issue: one idea per place)."""
    path = next(p for p in NOTEBOOKS if p.name.startswith(number))
    cells, words = _size(path)
    assert cells <= 35 and words <= 1800, f"{path.name}: {cells} cells, {words} words of markdown"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_format_rules(path):
    assert nbtool.problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_skeleton_and_profile_banner(path):
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("## Overview", "## Setup", "## Your turn", "## Key takeaways"):
        assert heading in markdown, f"{path.name} lacks {heading}"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    setup_cells = [i for i, src in enumerate(code) if "setup(" in src and "from helpers" in src]
    assert setup_cells and setup_cells[0] <= 2, "the profile banner comes right after the Colab cell"
    assert not any("P.name ==" in src or "P.name !=" in src for src in code), "read values from P, never branch on it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_will_be_compared_by_nbval(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if nbtool.is_checked(cell):
            assert cell.execution_count is not None and cell.outputs, cell.source[:60]


def test_badge_detects_a_wrong_url(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    slug = nbtool.repo_url().removeprefix("https://github.com/")
    nb.cells[0].source = nb.cells[0].source.replace(slug, "someone/else")
    bad = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, bad)
    assert any("badge" in p for p in nbtool.problems(bad))


def test_strip_keeps_only_checked_outputs(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(1)", execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")]),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)", execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="2\n")]),
    ])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    nbtool.strip([path])
    again = nbformat.read(path, as_version=4)
    assert again.cells[0].outputs == [] and again.cells[0].execution_count is None
    assert again.cells[1].outputs[0]["text"] == "2\n" and again.cells[1].execution_count == 2


def test_a_notebook_that_reads_another_runs_after_it_on_the_same_worker():
    """make test's parallel workers: what a notebook's code reads from another notebook must be in its work unit."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("repository_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    work_unit = module.work_unit

    # 07 draws 02's and 03's curves when they are there and says "run them first" when not: an optional read, in
    # whatever order the workers reach it (results.save_history writes a curve file whole, so it is never half-read).
    optional = {"07": {"02", "03"}}
    readers = {}
    for path in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for other in set(re.findall(r"[\"'/](\d\d)_[a-z]", code)) - {path.name[:2]}:
            readers.setdefault(path.name[:2], set()).add(other)
            assert other < path.name[:2], f"{path.name} reads notebook {other}'s output but runs before it"
            if other in optional.get(path.name[:2], ()):
                continue
            source = next(p for p in NOTEBOOKS if p.name.startswith(other))
            assert work_unit(f"notebooks/{path.name}::Cell 0") == work_unit(f"notebooks/{source.name}::Cell 0")
    assert readers == {"02": {"01"}, "04": {"03"}, "07": {"02", "03"}, "08": {"03", "04"}}, "a new dependency between notebooks: check conftest.py"
    assert work_unit("notebooks/05_x.ipynb::Cell 3") != work_unit("notebooks/06_x.ipynb::Cell 3")
    assert work_unit("tests/test_data.py::test_x") == "tests/test_data.py"
    ids = ["tests/test_data.py::a", "notebooks/02_x.ipynb::Cell 1", "notebooks/01_x.ipynb::Cell 0",
           "notebooks/01_x.ipynb::Cell 1", "tests/test_browser.py::b", "notebooks/05_x.ipynb::Cell 0"]
    assert sorted(ids, key=module.unit_rank) == [ids[4], ids[1], ids[2], ids[3], ids[0], ids[5]]  # cells keep order
    assert {work_unit(f"notebooks/{p.name}::Cell 0") for p in NOTEBOOKS} <= set(module.UNIT_ORDER)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_results_table_is_shown(path):
    """A `results.comparison` table is a cell's last expression or passed to `display`: otherwise Jupyter drops it."""
    import ast

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or "results.comparison(" not in cell.source:
            continue
        source = "\n".join("pass" if line.lstrip().startswith("%") else line for line in cell.source.splitlines())
        tree = ast.parse(source)
        shown = [node.args[0] for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", None) == "display" and node.args]
        if isinstance(tree.body[-1], ast.Expr):
            shown.append(tree.body[-1].value)
        tables = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and ast.unparse(node.func) == "results.comparison"]
        assert tables and all(any(table is s for s in shown) for table in tables), \
            f"{path.name}: a results.comparison table is built but never shown"
