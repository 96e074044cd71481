"""High-level inference APIs."""

from .open_vocab_inferencer import OpenVocabInferencer, read_image
from .weights import load_model_weights

__all__ = ['OpenVocabInferencer', 'load_model_weights', 'read_image']
