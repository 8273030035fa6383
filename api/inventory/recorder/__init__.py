"""The history recorder: `python -m inventory.recorder` (same image as the API, one instance)."""
