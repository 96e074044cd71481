"""mmpat datasets and transforms, registered into mmseg's registries."""

from . import transforms
from .class_names import get_class_names
from .image_caption import ImageCaptionDataset
from .scenes import ScenesDataset, generate_scenes
from .zeroshot import (
    ADE20K150Dataset,
    ADE20K847Dataset,
    COCOObjectDataset,
    COCOStuff171Dataset,
    PascalContext59Dataset,
    PascalContext60Dataset,
    PascalContext459Dataset,
    PascalVOC20Dataset,
    PascalVOC21Dataset,
)

__all__ = [
    'transforms',
    'get_class_names',
    'ImageCaptionDataset',
    'ScenesDataset',
    'generate_scenes',
    'ADE20K150Dataset',
    'ADE20K847Dataset',
    'COCOObjectDataset',
    'COCOStuff171Dataset',
    'PascalContext59Dataset',
    'PascalContext60Dataset',
    'PascalContext459Dataset',
    'PascalVOC20Dataset',
    'PascalVOC21Dataset',
]
