"""Maintainer tool for the course notebooks (not used by learners).

    python tools/nbtool.py from-py SRC.py OUT.ipynb   # percent-format script -> notebook (no outputs)
    python tools/nbtool.py to-py NB.ipynb OUT.py       # notebook -> percent-format script, for editing as text
    python tools/nbtool.py refresh NB.ipynb [...]      # run in smoke, keep only NBVAL_CHECK_OUTPUT outputs
    python tools/nbtool.py strip NB.ipynb [...]        # drop outputs except NBVAL_CHECK_OUTPUT cells
    python tools/nbtool.py check NB.ipynb [...]        # the format rules tests/test_notebook_format.py enforces
    python tools/nbtool.py set-repo NB.ipynb [...]     # rewrite badge and Colab install URL from pyproject.toml

Percent format: a line ``# %%`` starts a code cell, ``# %% [markdown]`` a Markdown cell whose lines start
with ``# ``. A code cell whose first line is ``%%solution`` is stored collapsed (``jupyter.source_hidden``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
MACHINE_PATH = re.compile(r"/(work|tmp|root|home/[^/\s]+)/[A-Za-z]")


def repo_url() -> str:
    """The repository URL, written once in pyproject.toml."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["project"]["urls"]["Repository"].rstrip("/")


def colab_badge(nb_name: str) -> str:
    """The Markdown badge row every notebook starts with, pointing at its own path."""
    slug = repo_url().removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{nb_name}"
    binder = f"https://mybinder.org/v2/gh/{slug}/HEAD?labpath=notebooks%2F{nb_name}"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def colab_install_line() -> str:
    """The pip line of the Colab-only setup cell."""
    return f'%pip install -q "git+{repo_url()}.git"'


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell whose source has the NBVAL_CHECK_OUTPUT marker as a whole comment line."""
    return cell.cell_type == "code" and any(line.strip() == CHECK_MARK for line in cell.source.splitlines())


def _cell_id(nb_name: str, index: int) -> str:
    return hashlib.sha1(f"{nb_name}:{index}".encode()).hexdigest()[:8]


def normalise(nb: nbformat.NotebookNode, nb_name: str) -> nbformat.NotebookNode:
    """Strip outputs (except checked cells), give stable ids, keep minimal metadata."""
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):
        cell.id = _cell_id(nb_name, i)
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags", "jupyter")}
        if cell.cell_type == "code" and cell.source.startswith("%%solution"):
            cell.metadata["jupyter"] = {"source_hidden": True}
        if cell.cell_type == "code":
            if is_checked(cell):
                cell.outputs = [o for o in cell.outputs if o.get("output_type") in ("stream", "execute_result")
                                and o.get("name", "stdout") != "stderr"]
                for o in cell.outputs:
                    o.pop("metadata", None) if o.get("output_type") == "stream" else None
                    if o.get("output_type") == "execute_result":
                        o["metadata"] = {}
            else:
                cell.outputs = []
                cell.execution_count = None
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write with LF endings and a trailing newline."""
    text = nbformat.writes(nb, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", newline="\n")


def from_py(src: Path, out: Path) -> None:
    """Build a notebook from a percent-format script."""
    cells, kind, lines = [], None, []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body:
            cells.append(nbformat.v4.new_code_cell(body))

    text = src.read_text().replace("# BADGES\n", f"# {colab_badge(out.name)}\n")
    text = text.replace('"git+REPO.git"', f'"git+{repo_url()}.git"')
    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    write(normalise(nb, out.name), out)


def to_py(nb_path: Path, out: Path) -> None:
    """Write a notebook as a percent-format script."""
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append("# %% [markdown]\n" + "\n".join(f"# {l}".rstrip() for l in cell.source.splitlines()))
        else:
            parts.append("# %%\n" + cell.source)
    out.write_text("\n\n".join(parts) + "\n")


def strip(paths: list[Path]) -> None:
    """Strip outputs in place (keeping checked cells)."""
    for path in paths:
        write(normalise(nbformat.read(path, as_version=4), path.name), path)


def refresh(paths: list[Path]) -> None:
    """Execute each notebook in the smoke profile, then strip it so only checked cells keep their outputs."""
    from nbclient import NotebookClient

    os.environ["COURSE_PROFILE"] = "smoke"
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        write(normalise(nb, path.name), path)
        print(f"refreshed {path}")


def problems(path: Path) -> list[str]:
    """Every way a notebook breaks the course's format rules."""
    nb = nbformat.read(path, as_version=4)
    out = []
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        out.append("first cell must be a Markdown cell starting with one H1 title")
    elif colab_badge(path.name) not in nb.cells[0].source:
        out.append("first cell lacks the Colab/Binder badge row for this notebook (run tools/nbtool.py set-repo)")
    setup = [c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    if not setup:
        out.append("no Colab-only setup cell")
    elif colab_install_line() not in setup[0].source:
        out.append("Colab setup cell does not install from the repository URL in pyproject.toml")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            if cell.execution_count is None or not cell.outputs:
                out.append(f"cell {i}: NBVAL_CHECK_OUTPUT cell has no stored output/execution count (run refresh)")
        elif cell.outputs or cell.execution_count is not None:
            out.append(f"cell {i}: outputs must be stripped (run tools/nbtool.py strip)")
        text = cell.source + "".join(str(o.get("text", "")) for o in cell.get("outputs", []))
        if MACHINE_PATH.search(text):
            out.append(f"cell {i}: contains a machine path")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and MACHINE_PATH.search(cell.source):
            out.append(f"cell {i}: contains a machine path")
    return out


def set_repo(paths: list[Path]) -> None:
    """Rewrite each notebook's badge row and Colab install line from pyproject.toml's repository URL."""
    badge_re = re.compile(r"\[!\[Open In Colab\].*?\]\(https://mybinder\.org/v2/gh/[^)]*\)")
    pip_re = re.compile(r'%pip install -q "git\+[^"]*"')
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.source = badge_re.sub(colab_badge(path.name), cell.source)
            if cell.cell_type == "code":
                cell.source = pip_re.sub(colab_install_line(), cell.source)
        write(nb, path)


def main(argv: list[str]) -> int:
    cmd, args = argv[0], [Path(a) for a in argv[1:]]
    if cmd == "from-py":
        from_py(args[0], args[1])
    elif cmd == "to-py":
        to_py(args[0], args[1])
    elif cmd == "strip":
        strip(args)
    elif cmd == "refresh":
        refresh(args)
    elif cmd == "set-repo":
        set_repo(args)
    elif cmd == "check":
        bad = {p: problems(p) for p in args}
        for p, errs in bad.items():
            for e in errs:
                print(f"{p}: {e}")
        return 1 if any(bad.values()) else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
