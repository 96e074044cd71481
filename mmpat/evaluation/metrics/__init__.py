"""mmpat metrics, registered into ``mmseg.registry.METRICS``."""

__all__: list[str] = []
