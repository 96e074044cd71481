"""mmpat text encoders."""

from .openclip_text_encoder import OpenCLIPTextEncoder
from .templates import TEMPLATE_SETS, get_templates

__all__: list[str] = ['OpenCLIPTextEncoder', 'TEMPLATE_SETS', 'get_templates']
