"""Shared test helpers (importable as ``helpers``: conftest puts ``tests/`` on sys.path)."""
