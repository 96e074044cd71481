"""mmpat datasets and transforms, registered into mmseg's registries."""

from . import transforms

__all__ = ['transforms']
