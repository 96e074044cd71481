"""mmpat necks."""

__all__: list[str] = []
