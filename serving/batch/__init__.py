"""The daily batch: read the day's orders, validate, score, store, enqueue emails (issue 5)."""
