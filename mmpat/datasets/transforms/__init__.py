"""mmpat data transforms."""

__all__: list[str] = []
