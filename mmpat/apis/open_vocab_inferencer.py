"""Segment images with any vocabulary: ``OpenVocabInferencer(config, checkpoint)(img, vocab)``."""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from PIL import Image, UnidentifiedImageError

from mmpat.utils.projects import load_config_file
from mmpat.utils.vocabulary import primary_name
from mmpat.visualization import draw_overlay

from .weights import load_model_weights

ImageInput = str | os.PathLike | np.ndarray

_ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadAnnotationsUint16', 'LoadDepthAnnotation')


def read_image(image: ImageInput) -> np.ndarray:
    """Read an image as RGB uint8 [H, W, 3]; grayscale, palette and RGBA are converted.

    Args:
        image: A path or an array ([H, W], [H, W, 1], [H, W, 3] RGB or [H, W, 4] RGBA).

    Raises:
        FileNotFoundError: The path does not exist.
        ValueError: The file cannot be decoded as an image, or the array has a bad shape.
    """
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ValueError(
                f'image array must be [H, W], [H, W, 3] or [H, W, 4], got {array.shape}'
            )
        return np.ascontiguousarray(array[..., :3]).astype(np.uint8)
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f'Image {str(path)!r} does not exist.')
    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert('RGB'))
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f'Cannot decode {str(path)!r} as an image: {error}') from None


def _test_pipeline(cfg: Config) -> list[dict]:
    pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
    steps = [dict(step) for step in pipeline if step['type'] not in _ANNOTATION_LOADERS]
    if steps and steps[0]['type'] == 'LoadImageFromFile':
        steps[0] = dict(type='LoadImageFromNDArray')
    return steps


class OpenVocabInferencer:
    """Open-vocabulary inference on images given as paths or arrays.

    Args:
        config (str | Config): Model config (an ``OpenVocabEncoderDecoder``-like model with
            ``set_vocabulary``).
        checkpoint (str, optional): Segmentor checkpoint (None for training-free models whose
            weights come from ``pretrained=`` files in the config).
        device (str, optional): 'cpu', 'cuda', 'cuda:1', ...; default: CUDA when available.
        cfg_options (dict, optional): Overrides merged into the config.

    Example:
        >>> inferencer = OpenVocabInferencer('configs/maskclip/...py', device='cpu')
        >>> result = inferencer('cat.jpg', 'cat; dog, puppy; sky', out_file='out.png')
        >>> result['label_map'].shape, result['classes']
    """

    def __init__(
        self,
        config: str | Config,
        checkpoint: str | None = None,
        *,
        device: str | None = None,
        cfg_options: dict | None = None,
    ) -> None:
        if isinstance(config, (str, os.PathLike)):
            if not osp.isfile(config):
                raise FileNotFoundError(f'Config {str(config)!r} does not exist.')
            config = load_config_file(str(config))
        if cfg_options:
            config.merge_from_dict(cfg_options)
        self.cfg = config
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        init_default_scope(config.get('default_scope', 'mmseg'))
        self.model = MODELS.build(config.model)
        if checkpoint is not None:
            load_model_weights(self.model, checkpoint)
        if not hasattr(self.model, 'set_vocabulary'):
            raise TypeError(f'{type(self.model).__name__} has no run-time vocabulary.')
        self.model.to(self.device).eval()
        self.pipeline = Compose(_test_pipeline(config))
        self._vocabulary: object = None

    def set_vocabulary(self, vocabulary: str | Sequence[str | Sequence[str]]) -> None:
        """Encode a vocabulary ("cat; dog, puppy; sky" or a list); reused until changed."""
        if vocabulary != self._vocabulary:
            self.model.set_vocabulary(vocabulary)
            self._vocabulary = vocabulary

    @torch.no_grad()
    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        vocabulary: str | Sequence[str | Sequence[str]],
        *,
        out_file: str | None = None,
        out_dir: str | None = None,
        opacity: float = 0.5,
    ) -> dict | list[dict]:
        """Segment one image or a list of images.

        Args:
            images: A path, an RGB array, or a list of them.
            vocabulary: Class names (see :func:`mmpat.utils.vocabulary.parse_vocabulary`).
            out_file: For a single image, where to write the overlay (PNG/JPG).
            out_dir: For several images, a folder for overlays named after the inputs.
            opacity: Colour weight of the overlay.

        Returns:
            dict | list[dict]: Per image ``label_map`` (int64 [H, W]), ``scores`` (float32
            [H, W], the winning class's probability), ``classes`` (names by index) and
            ``overlay`` path when written.
        """
        single = isinstance(images, (str, os.PathLike, np.ndarray))
        batch = [images] if single else list(images)
        self.set_vocabulary(vocabulary)
        names = [primary_name(n) for n in self.model.class_names]
        results = []
        for index, image in enumerate(batch):
            rgb = read_image(image)
            data = self.pipeline(dict(img=rgb[..., ::-1].copy()))  # mmseg pipelines use BGR
            sample = self.model.test_step(pseudo_collate([data]))[0]
            logits = sample.seg_logits.data.float()
            label_map = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64)
            scores = logits.softmax(dim=0).amax(dim=0).cpu().numpy().astype(np.float32)
            result = dict(label_map=label_map, scores=scores, classes=names)
            target = out_file if single else None
            if out_dir is not None:
                stem = Path(image).stem if not isinstance(image, np.ndarray) else f'{index:05d}'
                target = osp.join(out_dir, f'{stem}_overlay.png')
            if target is not None:
                overlay = draw_overlay(
                    rgb, label_map, names, self.model.dataset_meta['palette'], opacity=opacity
                )
                os.makedirs(osp.dirname(osp.abspath(target)), exist_ok=True)
                Image.fromarray(overlay).save(target)
                result['overlay'] = target
            results.append(result)
        return results[0] if single else results
