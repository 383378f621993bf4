"""The regression side of the paper (PAPER.md §7, claim family C5): smoothness, rates, estimators."""
