"""mmpat utilities."""
