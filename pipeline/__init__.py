"""nearmiss pipeline package."""
