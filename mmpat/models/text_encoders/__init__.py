"""mmpat text encoders."""

__all__: list[str] = []
