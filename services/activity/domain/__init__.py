"""Activity's domain rules: pure functions and value objects, no driver, no FastAPI."""
