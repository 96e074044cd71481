"""mmpat text encoders."""

from .groupvit_text_encoder import GROUPVIT_TEMPLATES, GroupViTTextEncoder
from .multi_view_prompt_text_encoder import MultiViewPromptTextEncoder, load_prompt_context
from .openclip_text_encoder import OpenCLIPTextEncoder
from .templates import TEMPLATE_SETS, get_templates

__all__: list[str] = [
    'GROUPVIT_TEMPLATES',
    'GroupViTTextEncoder',
    'MultiViewPromptTextEncoder',
    'OpenCLIPTextEncoder',
    'TEMPLATE_SETS',
    'get_templates',
    'load_prompt_context',
]
