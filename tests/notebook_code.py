"""Read the functions and classes a notebook defines, so a unit test can check a notebook's own code on known answers."""

from __future__ import annotations

import ast
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_definitions(notebook: str, names: set[str]) -> str:
    """The source of the functions and classes called ``names`` in a notebook's code cells ("07" or a file name)."""
    import nbformat

    path = next(NOTEBOOKS.glob(f"{notebook}*.ipynb"))
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith("%%"):
            continue
        source = "\n".join(line.split("%")[0] + "pass" if line.lstrip().startswith("%") else line
                           for line in cell.source.splitlines())  # IPython magics are not Python
        found += [ast.get_source_segment(source, node) for node in ast.parse(source).body
                  if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names]
    assert len(found) == len(names), f"{path.name} no longer defines {sorted(names)}"
    return "\n\n".join(found)
