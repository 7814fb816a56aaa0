"""nearmiss flows package."""
