"""Image-text contrastive pretraining of an open_clip model (CLIP's symmetric InfoNCE).

:class:`CLIPContrastive` wraps a randomly initialised :class:`open_clip.model.CLIP` built from
a preset of :mod:`mmpat.models.clip.presets` (by default ``'ViT-scenes-tiny'``, the frozen VLM
of the offline scenes benchmark) and trains it on image-caption pairs (``ImageCaptionDataset``
+ ``PackImageCaption``). The wrapped model keeps open_clip's own module names, so its weights
export to open_clip's state-dict layout by stripping the ``clip.`` prefix
(:func:`mmpat.apis.clip_export.export_clip_weights`).

Our choices (constructor arguments, defaults in brackets): temperature learned as open_clip's
``logit_scale`` (init ``log(1/0.07)``), its exponential clamped to ``max_logit_scale`` [100] as
in CLIP; negatives gathered from every process with gradients (``gather_with_grad`` [True]);
the caption is ``metainfo['caption']`` of each data sample (one random phrasing per sample,
chosen by ``PackImageCaption``).

``loss_type='tags'`` trains on image tags instead (UniCL's image-label form, the recipe of the
scenes VLM): the texts of a batch are its distinct prompts ``tag_template.format(tag)`` over
every sample's ``metainfo['tags']``, and image->text and text->image cross-entropies go
against the uniform distribution over each row's positives (an image is positive with every
one of its tags, a prompt with every image that has it), so two images of a red circle are
not each other's negatives. The tags loss is computed per process (texts are strings, not
gathered). ``freeze_text_tower=True`` keeps the text tower at its (seeded) random
initialisation, so the class names' embeddings stay apart and the image tower has to follow;
on the scenes this learns shapes where training both towers does not
(``docs/experiments/scenes_clip.md``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from mmpat.models.clip.presets import build_open_clip, get_clip_preset
from mmpat.models.clip.seeded_text import seeded_text_state
from mmpat.models.utils import all_gather_with_grad

CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]


def clip_contrastive_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    *,
    offset: int = 0,
    local_batch: int | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE of CLIP: mean of image->text and text->image cross-entropies.

    Args:
        image_embeds: (N, C) L2-normalised image embeddings (N = all processes' batches).
        text_embeds: (N, C) L2-normalised text embeddings; row ``i`` is the positive of image
            ``i``.
        logit_scale: Scalar, the (already exponentiated) inverse temperature.
        offset: Index of the first local sample in the gathered batch.
        local_batch: Local rows to score (default: all ``N``).

    Returns:
        Tensor: scalar loss.
    """
    local_batch = image_embeds.shape[0] if local_batch is None else local_batch
    rows = slice(offset, offset + local_batch)
    labels = torch.arange(offset, offset + local_batch, device=image_embeds.device)
    logits_per_image = logit_scale * image_embeds[rows] @ text_embeds.T
    logits_per_text = logit_scale * text_embeds[rows] @ image_embeds.T
    return 0.5 * (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
    )


def multi_positive_contrastive_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    positives: torch.Tensor,
    logit_scale: torch.Tensor,
) -> torch.Tensor:
    """Symmetric contrastive loss with several positives per row (UniCL).

    Args:
        image_embeds: (B, C) L2-normalised image embeddings.
        text_embeds: (T, C) L2-normalised text embeddings.
        positives: (B, T) non-negative weights, ``positives[i, j] > 0`` when text ``j``
            describes image ``i`` (1/0, or e.g. how much of the image it covers); every row and
            column needs at least one positive.
        logit_scale: Scalar inverse temperature (already exponentiated).

    Returns:
        Tensor: scalar, mean of the image->text and text->image soft-target cross-entropies
        (target: the row's weights, normalised; uniform over its positives for a 0/1 matrix).
    """
    positives = positives.to(image_embeds.dtype)
    if (positives.sum(1) == 0).any() or (positives.sum(0) == 0).any():
        raise ValueError('every image and every text needs at least one positive')
    logits = logit_scale * image_embeds @ text_embeds.T
    targets_i2t = positives / positives.sum(1, keepdim=True)
    targets_t2i = positives.T / positives.T.sum(1, keepdim=True)
    i2t = -(targets_i2t * F.log_softmax(logits, dim=1)).sum(1).mean()
    t2i = -(targets_t2i * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


LOSS_TYPES = ('captions', 'tags')


@MODELS.register_module()
class CLIPContrastive(BaseModel):
    """CLIP pretraining on image-caption pairs.

    Args:
        preset: CLIP preset name or dict (``open_clip.model.CLIP`` keyword arguments).
        data_preprocessor: Stacks and normalises the images (default: mmseg's
            ``SegDataPreProcessor`` with CLIP's mean/std, BGR->RGB).
        max_logit_scale: Upper clamp of the learned inverse temperature (CLIP: 100).
        gather_with_grad: Back-propagate through the features gathered from other processes.
        loss_type: ``'captions'`` (CLIP's InfoNCE, one caption per image) or ``'tags'``
            (multi-positive over the batch's distinct tag prompts; needs ``tags`` in the
            metainfo: ``ImageCaptionDataset`` with tags + ``PackImageCaption``).
        tag_template: The prompt of a tag (``'tags'`` loss; the template the zero-shot tools
            use by default).
        freeze_text_tower: Keep the text tower (token and positional embeddings, transformer,
            final norm, text projection) at its random initialisation.
        tag_weight_power: ``'tags'`` loss: an image's target over its tags is proportional to
            ``tag_weight ** power`` (the dataset's ``tag_weights``, e.g. visible pixels, so the
            largest object leads); 0 (default): uniform, no weights needed.
        init_logit_scale: Initial inverse temperature (None: open_clip's, 1 / 0.07).
        text_init_seed: With ``freeze_text_tower``: initialise the text tower from its own seed
            (:func:`~mmpat.models.clip.seeded_text.seeded_text_state`) instead of the global
            random stream, so its weights are a function of the preset and this seed alone and
            a compact export (trained tensors + seed) rebuilds the model bit for bit
            (``tools/model_converters/seeded_clip.py``). None: open_clip's init in the stream.
        init_cfg: mmengine init config (unused by default: open_clip initialises itself).

    Forward modes (``inputs``: (B, 3, H, W) float after the preprocessor; ``data_samples``:
    ``SegDataSample`` list whose metainfo has ``caption``):
        - ``'loss'``: ``dict(loss_itc=Tensor, logit_scale=Tensor)`` (the scale is detached, for
          logging; mmengine only back-propagates keys that contain ``loss``).
        - ``'tensor'``: ``(image_embeds (B, C), text_embeds (B, C))``, L2-normalised.
        - ``'predict'``: the data samples with ``image_embed`` (C,), ``text_embed`` (C,) and
          ``itc_scores`` (B,) (scaled similarity of the image to every caption of the batch)
          set as fields.
    """

    def __init__(
        self,
        *,
        preset: str | dict[str, Any] = 'ViT-scenes-tiny',
        data_preprocessor: dict | None = None,
        max_logit_scale: float = 100.0,
        gather_with_grad: bool = True,
        loss_type: str = 'captions',
        tag_template: str = 'a photo of a {}.',
        freeze_text_tower: bool = False,
        tag_weight_power: float = 0.0,
        init_logit_scale: float | None = None,
        text_init_seed: int | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        if loss_type not in LOSS_TYPES:
            raise ValueError(f'loss_type must be one of {LOSS_TYPES}, got {loss_type!r}')
        if '{}' not in tag_template:
            raise ValueError(f'tag_template needs a "{{}}" for the tag, got {tag_template!r}')
        if data_preprocessor is None:
            size = get_clip_preset(preset)['vision_cfg'].get('image_size', 224)
            data_preprocessor = dict(
                type='SegDataPreProcessor',
                mean=CLIP_MEAN,
                std=CLIP_STD,
                bgr_to_rgb=True,
                size=(size, size) if isinstance(size, int) else tuple(size),
            )
        if isinstance(data_preprocessor, dict):
            # Build from mmseg's registry, so the model also builds outside the mmseg scope.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.preset = get_clip_preset(preset)
        self.clip = build_open_clip(self.preset)
        self.context_length = int(self.preset['text_cfg'].get('context_length', 77))
        self.image_size = self.preset['vision_cfg'].get('image_size', 224)
        self.max_logit_scale = float(max_logit_scale)
        self.gather_with_grad = gather_with_grad
        self.loss_type = loss_type
        self.tag_template = tag_template
        self.freeze_text_tower = freeze_text_tower
        self.tag_weight_power = float(tag_weight_power)
        if init_logit_scale is not None:
            if not 0 < init_logit_scale <= max_logit_scale:
                raise ValueError(
                    f'init_logit_scale must be in (0, max_logit_scale={max_logit_scale}], '
                    f'got {init_logit_scale}'
                )
            with torch.no_grad():
                self.clip.logit_scale.fill_(math.log(init_logit_scale))
        if text_init_seed is not None:
            if not freeze_text_tower:
                raise ValueError(
                    'text_init_seed needs freeze_text_tower=True (a trained text tower is not '
                    'a function of its seed)'
                )
            self.clip.load_state_dict(seeded_text_state(self.preset, text_init_seed), strict=False)
        self.text_init_seed = text_init_seed
        if freeze_text_tower:
            for name, param in self.clip.named_parameters():
                if not name.startswith('visual.') and name != 'logit_scale':
                    param.requires_grad_(False)

    # ----------------------------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """open_clip's BPE tokens at the preset's context length (long captions truncated).

        Args:
            texts: B strings.

        Returns:
            Tensor: (B, context_length) int64 token ids, on the model's device.
        """
        from open_clip import tokenize

        device = self.clip.logit_scale.device
        return tokenize(list(texts), context_length=self.context_length).to(device)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings.

        Args:
            images: (B, 3, S, S) normalised images, S = the preset's image size.

        Returns:
            Tensor: (B, embed_dim).
        """
        size = self.image_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        if images.dim() != 4 or tuple(images.shape[-2:]) != size:
            raise ValueError(
                f'CLIPContrastive expects images of shape (B, 3, {size[0]}, {size[1]}) (the '
                f'preset image size), got {tuple(images.shape)}; resize/crop in the pipeline'
            )
        return self.clip.encode_image(images, normalize=True)

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """L2-normalised text embeddings of B strings: (B, embed_dim)."""
        return self.clip.encode_text(self.tokenize(texts), normalize=True)

    def logit_scale(self) -> torch.Tensor:
        """The inverse temperature, ``exp(logit_scale)`` clamped to ``max_logit_scale``."""
        return self.clip.logit_scale.clamp(max=math.log(self.max_logit_scale)).exp()

    @staticmethod
    def captions_of(data_samples: list | None) -> list[str]:
        """One caption per sample, from ``metainfo['caption']``."""
        if not data_samples:
            raise ValueError('CLIPContrastive needs data_samples with a "caption" metainfo')
        captions = []
        for i, sample in enumerate(data_samples):
            caption = sample.metainfo.get('caption')
            if not isinstance(caption, str):
                raise KeyError(
                    f'data sample {i} has no "caption" string in its metainfo (found keys '
                    f'{sorted(sample.metainfo)}); pack samples with PackImageCaption'
                )
            captions.append(caption)
        return captions

    def tag_prompts_of(self, data_samples: list | None) -> tuple[list[str], torch.Tensor]:
        """The batch's distinct tag prompts and the (B, T) positives matrix (1 for each of a
        sample's tags, or its weight ** ``tag_weight_power``)."""
        if not data_samples:
            raise ValueError('CLIPContrastive needs data_samples with a "tags" metainfo')
        per_sample = []
        for i, sample in enumerate(data_samples):
            tags = sample.metainfo.get('tags')
            if not isinstance(tags, list) or not tags:
                raise KeyError(
                    f"data sample {i} has no 'tags' list in its metainfo (loss_type='tags'); "
                    'give ImageCaptionDataset tags (a "tags" key per line or tags_file) and '
                    'pack with PackImageCaption'
                )
            weights = [1.0] * len(tags)
            if self.tag_weight_power:
                weights = sample.metainfo.get('tag_weights')
                if not isinstance(weights, list) or len(weights) != len(tags):
                    raise KeyError(
                        f'data sample {i} has no "tag_weights" for its {len(tags)} tags '
                        f'(tag_weight_power={self.tag_weight_power}); give the dataset objects '
                        'with "visible_pixels" or "tag_weights", or set tag_weight_power=0'
                    )
                weights = [float(w) ** self.tag_weight_power for w in weights]
            prompts_of = [self.tag_template.format(t) for t in tags]
            per_sample.append(dict(zip(prompts_of, weights)))
        prompts = sorted(set().union(*per_sample))
        column = {p: j for j, p in enumerate(prompts)}
        positives = torch.zeros(len(per_sample), len(prompts))
        for i, sample_prompts in enumerate(per_sample):
            for prompt, weight in sample_prompts.items():
                positives[i, column[prompt]] = weight
        return prompts, positives.to(self.clip.logit_scale.device)

    # ----------------------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples: list | None = None, mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward` (see class doc)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f'Invalid mode {mode!r}; use "loss", "predict" or "tensor"')

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None):
        captions = self.captions_of(data_samples)
        return self.encode_image(inputs), self.encode_text(captions)

    def loss(self, inputs: torch.Tensor, data_samples: list | None) -> dict[str, torch.Tensor]:
        """Symmetric InfoNCE over the (gathered) batch, or the tags loss (see module doc).

        Returns:
            dict: ``loss_itc`` (scalar) and the detached ``logit_scale`` for logging.
        """
        if self.loss_type == 'tags':
            prompts, positives = self.tag_prompts_of(data_samples)
            image_embeds = self.encode_image(inputs)
            scale = self.logit_scale()
            loss = multi_positive_contrastive_loss(
                image_embeds, self.encode_text(prompts), positives, scale
            )
            return dict(loss_itc=loss, logit_scale=scale.detach())
        image_embeds, text_embeds = self._forward(inputs, data_samples)
        all_images, offset = all_gather_with_grad(image_embeds, with_grad=self.gather_with_grad)
        all_texts, _ = all_gather_with_grad(text_embeds, with_grad=self.gather_with_grad)
        scale = self.logit_scale()
        loss = clip_contrastive_loss(
            all_images, all_texts, scale, offset=offset, local_batch=image_embeds.shape[0]
        )
        return dict(loss_itc=loss, logit_scale=scale.detach())

    def predict(self, inputs: torch.Tensor, data_samples: list | None) -> list:
        """Embeddings and in-batch image->caption scores per sample (see class doc)."""
        image_embeds, text_embeds = self._forward(inputs, data_samples)
        scores = self.logit_scale() * image_embeds @ text_embeds.T
        for i, sample in enumerate(data_samples):
            sample.set_field(image_embeds[i], 'image_embed')
            sample.set_field(text_embeds[i], 'text_embed')
            sample.set_field(scores[i], 'itc_scores')
        return data_samples
