"""mmpat decode heads."""
__all__: list[str] = []
