"""What fixed-state models, single SSM layers, short windows and finite precision cannot do (PAPER.md §5)."""
