"""High-level inference APIs."""

from .clip_export import export_clip_weights, load_clip_export, save_clip_weights
from .groupvit import load_groupvit_segmentor
from .open_vocab_inferencer import OpenVocabInferencer, read_image
from .tokenizer import (
    TokenizedImage,
    TokenizerConfigError,
    code_colours,
    init_tokenizer,
    token_map_picture,
    tokenize_image,
    tokenizer_figure,
)
from .weights import load_model_weights

__all__ = [
    'OpenVocabInferencer',
    'export_clip_weights',
    'load_clip_export',
    'load_groupvit_segmentor',
    'save_clip_weights',
    'load_model_weights',
    'read_image',
    'TokenizedImage',
    'TokenizerConfigError',
    'code_colours',
    'init_tokenizer',
    'token_map_picture',
    'tokenize_image',
    'tokenizer_figure',
]
