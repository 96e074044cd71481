"""Losses of the scenes GroupViT recipe (registered on import of the package)."""
