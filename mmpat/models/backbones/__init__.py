"""mmpat backbones."""

__all__: list[str] = []
