"""Every committed notebook follows the course's format: badge and Colab cell agree with pyproject's URL, outputs
stripped except NBVAL_CHECK_OUTPUT cells (which nbval will really compare), no machine paths, the shared skeleton."""

from __future__ import annotations

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
