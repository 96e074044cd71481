"""PAT's tokenizer on its own: an image in, its per-level token maps and reconstruction out.

``init_tokenizer(config, checkpoint)`` builds a segmentor whose neck is a ``PyramidTokenizer``
(a PAT config) and loads its weights; ``tokenize_image(model, image)`` runs one image through
the config's test pipeline, the model's data preprocessor, the frozen backbone, the tokenizer
and (when the model has one) the ``PixelReconHead`` pixel branch, in eval mode: the codebooks
are not updated. :func:`token_map_picture` and :func:`tokenizer_figure` render the result.

Example::

    >>> from mmpat.apis import init_tokenizer, tokenize_image, tokenizer_figure
    >>> model = init_tokenizer('configs/pat/pat_clip-tiny_scenes.py', 'work_dirs/.../iter_1000.pth')
    >>> tokens = tokenize_image(model, 'scene.png')
    >>> [t.shape for t in tokens.indices], tokens.codes_used()
    >>> PIL.Image.fromarray(tokenizer_figure(tokens)).save('tokens.png')
"""

from __future__ import annotations

import copy
import math
import os
import os.path as osp
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from mmpat.models.decode_heads import PixelReconHead
from mmpat.models.necks import PyramidTokenizer
from mmpat.utils.projects import load_config_file

from .open_vocab_inferencer import ImageInput, _test_pipeline, read_image
from .weights import load_model_weights

# Golden-ratio steps (and the plastic number's) spread consecutive code ids over hue,
# saturation and value: the colour depends on the code id alone.
_HUE_STEP = 0.6180339887498949
_SAT_STEP = 0.7548776662466927
_VAL_STEP = 0.5698402909980532


class TokenizerConfigError(ValueError):
    """The config or model has no ``PyramidTokenizer`` neck (not a PAT model)."""


@dataclass
class TokenizedImage:
    """The tokens of one image (what :func:`tokenize_image` returns).

    Attributes:
        indices: Per level, fine to coarse, the code index map [h_l, w_l] (LongTensor, CPU).
        reconstruction: The pixel branch's output as RGB uint8 [H, W, 3] at the size of
            ``image`` (de-normalised with the data preprocessor's mean/std), or None when the
            model has no ``PixelReconHead``.
        image: The input as the model saw it (after the test pipeline, e.g. resized), RGB
            uint8 [H, W, 3], without padding.
        codebook_sizes: Codes per level (the tokenizer's ``codebook_sizes``).
    """

    indices: list[Tensor]
    reconstruction: np.ndarray | None
    image: np.ndarray
    codebook_sizes: list[int] = field(default_factory=list)

    @property
    def num_levels(self) -> int:
        """Number of pyramid levels."""
        return len(self.indices)

    def codes_used(self) -> list[int]:
        """Distinct codes in each level's map."""
        return [int(torch.unique(level).numel()) for level in self.indices]


# ------------------------------------------------------------------------------------ model
def _describe_neck(neck: object) -> str:
    if neck is None:
        return 'neck=None'
    if isinstance(neck, (dict, Config)):
        return f'a neck of type {neck.get("type")!r}'
    if isinstance(neck, nn.Module):
        return f'a neck of type {type(neck).__name__!r}'
    return f'neck={neck!r}'


def _require_tokenizer(model: nn.Module, source: str = 'the model') -> PyramidTokenizer:
    neck = getattr(model, 'neck', None)
    if not isinstance(neck, PyramidTokenizer):
        raise TokenizerConfigError(
            f'{source} has no PyramidTokenizer neck: its {type(model).__name__} has '
            f'{_describe_neck(neck)}. Use a PAT config (e.g. configs/pat/pat_clip-tiny_scenes.py'
            ', not its baseline pat-baseline_*.py)'
        )
    return neck


def init_tokenizer(
    config: str | os.PathLike | Config,
    checkpoint: str | None = None,
    device: str = 'cpu',
    cfg_options: dict | None = None,
) -> nn.Module:
    """Build a PAT segmentor from its config for tokenizing images.

    The model is built as ``OpenVocabInferencer`` builds it (the config's default scope,
    ``MODELS.build``) and the checkpoint is loaded with :func:`load_model_weights` (the safe
    loader of :mod:`mmpat.compat`: set ``MMPAT_TRUST_CHECKPOINTS=1`` for trusted pickles).
    The config is kept as ``model.cfg`` (for the test pipeline).

    Args:
        config: Path of a config or a ``Config`` whose model has a ``PyramidTokenizer`` neck.
        checkpoint: A segmentor checkpoint (a runner checkpoint or a state dict). It holds the
            CLIP towers as well, so the config's CLIP ``pretrained`` files are not read then.
            None keeps the built weights (random codebooks: only for tests).
        device: 'cpu', 'cuda', ...
        cfg_options: Overrides merged into the config.

    Returns:
        nn.Module: The segmentor in eval mode, on ``device``.

    Raises:
        FileNotFoundError: The config or the checkpoint does not exist.
        TokenizerConfigError: The config's model has no ``PyramidTokenizer`` neck.
        mmpat.compat.CheckpointError: The checkpoint cannot be read or is refused.
        ValueError: The checkpoint does not fit the model.
    """
    if isinstance(config, (str, os.PathLike)):
        if not osp.isfile(config):
            raise FileNotFoundError(f'Config {str(config)!r} does not exist.')
        source = f'config {str(config)!r}'
        config = load_config_file(str(config))
    else:
        source = 'the config'
        config = copy.deepcopy(config)
    if checkpoint is not None:
        # The checkpoint holds the CLIP towers too: do not read the config's CLIP file.
        for part in ('backbone', 'text_encoder'):
            if isinstance(config.get('model', {}).get(part), dict):
                config.model[part]['pretrained'] = None
    if cfg_options:
        config.merge_from_dict(cfg_options)
    model_cfg = config.get('model')
    if model_cfg is None:
        raise TokenizerConfigError(f'{source} has no `model`')
    init_default_scope(config.get('default_scope', 'mmseg'))
    neck_cfg = model_cfg.get('neck')
    neck_type = neck_cfg.get('type') if isinstance(neck_cfg, dict) else None
    neck_cls = MODELS.get(neck_type) if isinstance(neck_type, str) else neck_type
    if not (isinstance(neck_cls, type) and issubclass(neck_cls, PyramidTokenizer)):
        # Fail before building the (possibly large) model.
        raise TokenizerConfigError(
            f'{source} has no PyramidTokenizer neck: its model ({model_cfg.get("type")}) has '
            f'{_describe_neck(neck_cfg)}. Use a PAT config (e.g. '
            'configs/pat/pat_clip-tiny_scenes.py, not its baseline pat-baseline_*.py)'
        )
    model = MODELS.build(config.model)
    _require_tokenizer(model, source)
    if checkpoint is not None:
        load_model_weights(model, checkpoint)
    model.cfg = config
    return model.to(torch.device(device)).eval()


def _pipeline(model: nn.Module) -> Compose:
    cfg = getattr(model, 'cfg', None)
    steps = None
    if cfg is not None:
        try:
            steps = _test_pipeline(cfg)
        except (AttributeError, KeyError, TypeError):
            steps = None  # a model config without datasets
    if not steps or steps[0]['type'] != 'LoadImageFromNDArray':
        steps = [dict(type='LoadImageFromNDArray'), dict(type='PackSegInputs')]
    return Compose(steps)


def _pixel_head(model: nn.Module) -> PixelReconHead | None:
    heads = []
    if getattr(model, 'with_auxiliary_head', False):
        aux = model.auxiliary_head
        heads = list(aux) if isinstance(aux, nn.ModuleList) else [aux]
    heads.append(getattr(model, 'decode_head', None))
    return next((h for h in heads if isinstance(h, PixelReconHead)), None)


def _to_rgb_uint8(recon: Tensor, preprocessor: nn.Module) -> np.ndarray:
    """A reconstruction [3, h, w] in the normalised input space -> RGB uint8 [h, w, 3]."""
    if getattr(preprocessor, '_enable_normalize', False):
        recon = recon * preprocessor.std.to(recon) + preprocessor.mean.to(recon)
    if not getattr(preprocessor, 'channel_conversion', False):
        recon = recon.flip(0)  # the model saw BGR (as loaded): show RGB
    array = recon.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0)
    return np.ascontiguousarray(array.cpu().numpy())


@torch.no_grad()
def tokenize_image(model: nn.Module, image: ImageInput) -> TokenizedImage:
    """Tokenize one image with a PAT model (whole image, no sliding window).

    The image goes through the config's test pipeline (resizing as at test time; annotation
    loading dropped; a bare ``LoadImageFromNDArray`` + ``PackSegInputs`` for a config without
    one) and the model's data preprocessor (``training=False``: its mean/std and channel
    order), then the backbone, the ``PyramidTokenizer`` neck and the ``PixelReconHead``. The
    model is switched to eval mode for the call (no codebook update; its previous mode is
    restored), so the same image always gives the same tokens. No vocabulary is needed.

    Args:
        model: From :func:`init_tokenizer` (or any segmentor with a ``PyramidTokenizer`` neck
            and a ``data_preprocessor``).
        image: A path (read with PIL, any format; grayscale / palette / RGBA converted) or an
            RGB array [H, W, 3] (also [H, W] and RGBA). Arrays are RGB, as for
            ``OpenVocabInferencer`` and PIL, not BGR as ``mmcv.imread`` returns; they are
            flipped to BGR for the mmseg pipeline, whose preprocessor (``bgr_to_rgb=True``)
            flips them back.

    Returns:
        TokenizedImage: Per-level index maps, the reconstruction and the image as seen.

    Raises:
        FileNotFoundError: The image path does not exist.
        ValueError: The file is not an image, or the array has a bad shape.
        TokenizerConfigError: The model has no ``PyramidTokenizer`` neck.
    """
    neck = _require_tokenizer(model)
    rgb = read_image(image)
    data = _pipeline(model)(dict(img=rgb[..., ::-1].copy()))  # mmseg pipelines use BGR
    seen = data['inputs']  # [3, H, W] uint8, BGR, before padding
    seen_rgb = np.ascontiguousarray(seen.flip(0).permute(1, 2, 0).numpy()).astype(np.uint8)
    was_training = model.training
    model.eval()
    try:
        batch = model.data_preprocessor(pseudo_collate([data]), training=False)
        inputs = batch['inputs']
        feats = neck(model.backbone(inputs))
        feats = dict(feats, images=inputs)
        if getattr(model, 'class_embeddings', None) is not None:
            feats['class_embeddings'] = model.class_embeddings
        head = _pixel_head(model)
        recon = head(feats)[0].float() if head is not None else None
    finally:
        model.train(was_training)
    img_h, img_w = seen_rgb.shape[:2]
    in_h, in_w = inputs.shape[-2:]  # larger than the image when the preprocessor pads
    indices = []
    for level in feats['indices']:
        h, w = level.shape[-2:]
        keep_h, keep_w = math.ceil(h * img_h / in_h), math.ceil(w * img_w / in_w)
        indices.append(level[0, :keep_h, :keep_w].long().cpu().contiguous())
    reconstruction = None
    if recon is not None:
        rh, rw = recon.shape[-2:]
        recon = recon[:, : round(rh * img_h / in_h), : round(rw * img_w / in_w)]
        if recon.shape[-2:] != (img_h, img_w):
            recon = F.interpolate(
                recon[None], size=(img_h, img_w), mode='bilinear', align_corners=False,
                antialias=recon.shape[-1] > img_w,
            )[0]  # fmt: skip
        reconstruction = _to_rgb_uint8(recon, model.data_preprocessor)
    return TokenizedImage(
        indices=indices,
        reconstruction=reconstruction,
        image=seen_rgb,
        codebook_sizes=list(neck.codebook_sizes),
    )


# -------------------------------------------------------------------------------- pictures
def code_colours(codes: np.ndarray | Tensor | Sequence[int]) -> np.ndarray:
    """A fixed colour per code id: golden-ratio hue, saturation and value steps (HSV).

    Args:
        codes: Integer code ids of any shape.

    Returns:
        np.ndarray: uint8 RGB colours of shape ``codes.shape + (3,)``; the same id always
        gives the same colour, neighbouring ids very different ones.
    """
    if isinstance(codes, Tensor):
        codes = codes.cpu().numpy()
    ids = np.asarray(codes, dtype=np.int64).astype(np.float64)
    hue = (ids * _HUE_STEP) % 1.0
    sat = 0.55 + 0.45 * ((ids * _SAT_STEP + 0.5) % 1.0)
    val = 0.65 + 0.35 * ((ids * _VAL_STEP + 0.5) % 1.0)
    sector = np.floor(hue * 6.0)
    frac = hue * 6.0 - sector
    p, q, t = val * (1 - sat), val * (1 - frac * sat), val * (1 - (1 - frac) * sat)
    sector = sector.astype(np.int64) % 6
    choices = [
        np.stack(c, axis=-1)
        for c in ((val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q))
    ]
    rgb = np.choose(sector[..., None], choices)
    return np.round(rgb * 255).astype(np.uint8)


def token_map_picture(
    indices_per_level: Sequence[np.ndarray | Tensor] | np.ndarray | Tensor,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Colour each level's token map (a colour per code) at one size (nearest upsampling).

    Args:
        indices_per_level: Per level an index map [h_l, w_l] (arrays or tensors; a leading
            batch dimension of 1 is dropped), or a single map.
        size: (H, W) of the pictures; default: the size of the largest map.

    Returns:
        np.ndarray: uint8 RGB [L, H, W, 3], one picture per level (``[l]`` is level l).
    """
    if isinstance(indices_per_level, (np.ndarray, Tensor)) and indices_per_level.ndim == 2:
        indices_per_level = [indices_per_level]
    maps = []
    for level in indices_per_level:
        array = level.cpu().numpy() if isinstance(level, Tensor) else np.asarray(level)
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 2:
            raise ValueError(f'a token map must be [h, w], got shape {array.shape}')
        maps.append(array)
    if not maps:
        raise ValueError('token_map_picture needs at least one token map')
    if size is None:
        size = max((m.shape for m in maps), key=lambda s: s[0] * s[1])
    height, width = int(size[0]), int(size[1])
    pictures = np.empty((len(maps), height, width, 3), np.uint8)
    for level, array in enumerate(maps):
        h, w = array.shape
        rows = np.arange(height) * h // height  # nearest, as F.interpolate(mode='nearest')
        cols = np.arange(width) * w // width
        pictures[level] = code_colours(array[rows[:, None], cols[None, :]])
    return pictures


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _display_size(height: int, width: int) -> tuple[int, int]:
    """Panel size: small images are enlarged (integer factor), big ones shrunk to 512."""
    longest = max(height, width)
    if longest > 512:
        scale = 512 / longest
        return max(1, round(height * scale)), max(1, round(width * scale))
    if height < 128:
        factor = math.ceil(128 / height)
        return height * factor, width * factor
    return height, width


def tokenizer_figure(tokenized: TokenizedImage) -> np.ndarray:
    """Input | reconstruction | level 0 .. L-1, side by side with labels.

    The token maps are coloured by :func:`token_map_picture`; each label gives the codes in
    use (of the codebook's size). Images smaller than 128 px are enlarged (nearest), larger
    than 512 px shrunk, for legibility.

    Args:
        tokenized: The output of :func:`tokenize_image`.

    Returns:
        np.ndarray: RGB uint8 [H', W', 3].
    """
    height, width = tokenized.image.shape[:2]
    size = _display_size(height, width)
    resample = Image.NEAREST if size[0] >= height else Image.LANCZOS

    def shown(array: np.ndarray) -> np.ndarray:
        if array.shape[:2] == size:
            return array
        return np.asarray(Image.fromarray(array).resize((size[1], size[0]), resample))

    panels = [(['input', f'{width}x{height}'], shown(tokenized.image))]
    if tokenized.reconstruction is not None:
        panels.append((['reconstruction', 'pixel branch'], shown(tokenized.reconstruction)))
    pictures = token_map_picture(tokenized.indices, size)
    used = tokenized.codes_used()
    sizes = list(tokenized.codebook_sizes) or [None] * len(used)
    for level, (picture, count, codes) in enumerate(zip(pictures, used, sizes)):
        h, w = tokenized.indices[level].shape
        of = f'/{codes}' if codes else ''
        panels.append(([f'level {level} ({w}x{h})', f'{count}{of} codes'], picture))
    font = _font(12)
    line, gap, label_h = 14, 4, 2 * 14 + 6
    figure = Image.new(
        'RGB', (len(panels) * size[1] + (len(panels) + 1) * gap, size[0] + label_h + gap), 'white'
    )
    draw = ImageDraw.Draw(figure)
    for i, (lines, array) in enumerate(panels):
        x = gap + i * (size[1] + gap)
        for j, text in enumerate(lines):
            draw.text((x, 3 + j * line), text, fill=(0, 0, 0), font=font)
        figure.paste(Image.fromarray(array), (x, label_h))
    return np.asarray(figure)
