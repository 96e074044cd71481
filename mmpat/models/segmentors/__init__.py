"""mmpat segmentors."""
__all__: list[str] = []
