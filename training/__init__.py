"""nearmiss training package."""
