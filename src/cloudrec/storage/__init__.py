"""Storage backends for finished segment files, and signed download URLs."""
