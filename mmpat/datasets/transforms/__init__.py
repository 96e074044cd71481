"""mmpat data transforms."""

from .loading_uint16 import LoadAnnotationsUint16
from .pack_image_caption import PackImageCaption
from .torchvision_image import TorchVisionImage

__all__: list[str] = ['LoadAnnotationsUint16', 'PackImageCaption', 'TorchVisionImage']
