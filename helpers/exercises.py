"""Checks for the notebooks' "Your turn" exercises: each prints feedback and returns True when the answer is right.

A check given ``None`` prints a reminder and returns a false Verdict without failing, so "Run all" never stops on an
exercise. Solutions ``assert`` their check, so nbval tests them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


class Verdict:
    """A check's outcome: truthy when the answer is right; shows nothing as a cell's last value (the check printed)."""

    def __init__(self, ok: bool) -> None:
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        pass


def _feedback(answer: Any, ok: bool, right: str, hint: str) -> Verdict:
    if answer is None:
        print("Not answered yet: replace None with your answer and run the cell again.")
        return Verdict(False)
    print(f"✓ Correct. {right}" if ok else f"✗ Not quite. {hint}")
    return Verdict(ok)


def check_landscape_count(answer: int | None, inventory: pd.DataFrame) -> Verdict:
    """00: number of training photos wider than tall."""
    train = inventory[inventory.split == "train"]
    truth = int((train.width > train.height).sum())
    return _feedback(answer, answer == truth, f"{truth} of {len(train)} training photos are landscape.",
                     "Filter the rows with split == 'train', then count width > height.")


def check_larger_median_area(answer: str | None, inventory: pd.DataFrame) -> Verdict:
    """00: class with the larger median width × height in the training split."""
    train = inventory[inventory.split == "train"]
    truth = (train.width * train.height).groupby(train["class"]).median().idxmax()
    return _feedback(answer, answer == truth, f"the {truth} photos are larger at the median.",
                     "Group width * height by the 'class' column and compare the medians.")
