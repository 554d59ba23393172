"""Interactive ipywidgets controls used by the notebooks (explorers, quizzes, dropdowns).

Each function builds and returns the widget; nothing is displayed on import.
"""

from __future__ import annotations
