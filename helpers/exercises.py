"""Checks for the notebooks' "Your turn" exercises: each prints feedback and returns True when the answer is right.

A check given ``None`` prints a reminder and returns False without failing, so "Run all" never stops on an exercise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _feedback(answer: Any, ok: bool, right: str, hint: str) -> bool:
    if answer is None:
        print("Not answered yet: replace None with your answer and run the cell again.")
        return False
    print(f"✓ Correct. {right}" if ok else f"✗ Not quite. {hint}")
    return ok


def check_landscape_count(answer: int | None, inventory: pd.DataFrame) -> bool:
    """00: number of training photos wider than tall."""
    train = inventory[inventory.split == "train"]
    truth = int((train.width > train.height).sum())
    return _feedback(answer, answer == truth, f"{truth} of {len(train)} training photos are landscape.",
                     "Filter the rows with split == 'train', then count width > height.")


def check_larger_median_area(answer: str | None, inventory: pd.DataFrame) -> bool:
    """00: class with the larger median width × height in the training split."""
    train = inventory[inventory.split == "train"]
    truth = (train.width * train.height).groupby(train["class"]).median().idxmax()
    return _feedback(answer, answer == truth, f"the {truth} photos are larger at the median.",
                     "Group width * height by the 'class' column and compare the medians.")
