"""``CLIPPyramid``: a frozen open_clip image tower giving a feature pyramid, the MaskCLIP dense
embedding and the global image embedding in one pass.

ViT presets (``docs/methods/pat.md``, backbone; ``docs/methods/mvp_seg.md``, dense features):

- ``'pyramid'``: the token maps after the blocks ``out_indices`` (1-based: block 12 of 12 is
  the last; 0 is the embedding after ``ln_pre``), each [B, C, h, w] with h = H // patch;
- ``'dense'``: a dense embedding [B, D, h, w] in text space, not normalised: the last block
  recomputed over the patch tokens with the attention of ``dense_attention``, then ``ln_post``
  and ``proj``. Default ``'maskclip'``: the value path without the q-k attention,
  ``x + out_proj(v(ln_1(x)))`` over the patch tokens of the block's input ``x``; our choice:
  MaskCLIP's v-only output, the last block's MLP residual skipped (``dense_mlp=True`` adds
  it). ``'sclip'``, ``'clearclip'``, ``'naclip'``: the published training-free variants
  (``dense_attention.py``, ``docs/methods/dense_clip.md``), same parameters;
- ``'global'``: open_clip's ``encode_image`` [B, D], not normalised.

Any input size works: the positional embedding's patch grid is resized (our choice: bicubic,
``align_corners=False``, no antialiasing, as mmseg's ``resize_pos_embed``) and cached per size.
The last block is computed once for all three outputs (its q/k/v projection is shared by the
attention and the dense value path), the other blocks are open_clip's own modules, so the cost
stays that of open_clip's forward.

ResNet presets (RN50, RN101): ``'pyramid'`` holds the stage outputs ``out_indices`` of
(1, 2, 3, 4) (strides 4, 8, 16, 32); ``'dense'`` applies the attention pool's v and c
projections as 1x1 convolutions to the last stage (MaskCLIP; no positional embedding);
``'global'`` is the attention pool (its positional embedding resized for other input sizes).

timm towers (open_clip's ``timm_model_name`` presets with a global pool, e.g. the scenes VLM
``'timm-resnet-scenes-tiny'`` or ConvNeXt CLIP): ``'pyramid'`` holds the trunk's feature maps
at strides 4, 8, 16, 32 (stages 1-4 of ``out_indices``); ``'global'`` is open_clip's own
``trunk.forward_head`` + ``head`` on the last map; ``'dense'`` runs that same head on every
location of the last map as a 1 x 1 image (MaskCLIP's idea for pooled heads: with average
pooling and a linear projection the mean of ``'dense'`` is ``'global'`` exactly; with max
pooling each location is projected as if it alone were the image). Attention-pooled timm
towers (``timm_pool='abs_attn'/'rot_attn'``) are refused.

Output formats (``out_format``): ``'dict'`` (default) returns the three outputs above for
mmpat's heads under ``OpenVocabEncoderDecoder``; ``'tuple'`` returns only the ``'pyramid'`` maps
as a tuple, what mmseg's heads index with ``in_index``, so the backbone works under mmseg's plain
``EncoderDecoder`` with any mmseg head (``FCNHead``, ``UPerHead``, ...; ``out_channels`` gives
their ``in_channels``). It runs the tower only up to the last block or stage in ``out_indices``
(no dense or global path; the maps are those of ``'dict'``), so parameters after it get no
gradient: do not unfreeze them.

The input is expected normalised with CLIP's mean/std (the data preprocessor's job).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..clip.presets import get_clip_preset
from ..clip.weights import load_clip_state_dict, load_clip_tower
from .dense_attention import get_dense_variant, mix_values


def build_clip_visual(preset: str | dict[str, Any]) -> nn.Module:
    """Build open_clip's image tower (random init) for a preset."""
    from open_clip.model import _build_vision_tower

    cfg = get_clip_preset(preset)
    return _build_vision_tower(cfg['embed_dim'], cfg['vision_cfg'], cfg.get('quick_gelu', False))


def timm_stage_indices(visual: nn.Module, preset: Any) -> dict[int, tuple[int, int]]:
    """Map stages 1-4 of an open_clip timm tower to its trunk's feature indices.

    Stage ``k`` is the trunk's feature map at stride ``2 ** (k + 1)`` (4, 8, 16, 32), as the
    stages of a ResNet; the last such map of the trunk is taken when several share a stride.

    Args:
        visual: open_clip ``TimmModel``.
        preset: The preset (for error messages).

    Returns:
        dict: stage -> (index into ``trunk.feature_info``, channels).

    Raises:
        ValueError: An attention-pooled head, or a trunk without the four strides.
    """
    if 'pool' in dict(visual.head.named_children()):
        raise ValueError(
            f'preset {preset!r}: CLIPPyramid supports timm towers with a global pool '
            "(timm_pool 'avg', 'max', '' ...), not attention pooling (abs_attn / rot_attn)"
        )
    info = list(getattr(visual.trunk, 'feature_info', None) or [])
    stages: dict[int, tuple[int, int]] = {}
    for index, item in enumerate(info):
        for stage in range(1, 5):
            if int(item['reduction']) == 2 ** (stage + 1):
                stages[stage] = (index, int(item['num_chs']))
    if sorted(stages) != [1, 2, 3, 4]:
        found = [int(item['reduction']) for item in info]
        raise ValueError(
            f'preset {preset!r}: the timm trunk needs feature maps at strides 4, 8, 16 and 32 '
            f'for the pyramid; its feature_info has strides {found}'
        )
    return stages


def dilated_timm_trunk(trunk: nn.Module, cfg: dict, output_stride: int) -> nn.Module:
    """The same timm trunk rebuilt with ``output_stride`` (dilated last stages), same weights.

    Args:
        trunk: open_clip ``TimmModel.trunk`` (classifier removed, its global pool kept).
        cfg: The CLIP preset (``vision_cfg.timm_model_name`` / ``timm_pool``).
        output_stride: 8 or 16.

    Returns:
        nn.Module: The new trunk, in the old one's train/eval mode, with its state dict.

    Raises:
        ValueError: Another stride, or a trunk timm cannot dilate.
    """
    import timm

    if output_stride not in (8, 16):
        raise ValueError(f'output_stride must be 8, 16 or 32, got {output_stride}')
    vision = cfg['vision_cfg']
    name = vision['timm_model_name']
    try:
        new = timm.create_model(name, output_stride=output_stride)
    except (TypeError, AssertionError, ValueError) as err:
        raise ValueError(f'timm model {name!r} cannot be built with output_stride: {err}') from err
    pool = vision.get('timm_pool', 'avg')
    new.reset_classifier(0, **(dict(global_pool=pool) if pool else {}))
    new.load_state_dict(trunk.state_dict())
    return new.train(trunk.training)


def resize_grid_embedding(
    pos: Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int]
) -> Tensor:
    """Resize a [1 + gh*gw, C] positional embedding (first row: class token) to a new grid.

    Args:
        pos: [1 + old_h * old_w, C].
        old_grid: (old_h, old_w).
        new_grid: (new_h, new_w).

    Returns:
        Tensor: [1 + new_h * new_w, C] (bicubic, ``align_corners=False``).
    """
    if tuple(old_grid) == tuple(new_grid):
        return pos
    cls_pos, grid = pos[:1], pos[1:]
    channels = grid.shape[-1]
    grid = grid.reshape(1, old_grid[0], old_grid[1], channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=new_grid, mode='bicubic', align_corners=False)
    grid = grid.to(pos.dtype).permute(0, 2, 3, 1).reshape(-1, channels)
    return torch.cat([cls_pos, grid], dim=0)


@MODELS.register_module()
class CLIPPyramid(BaseModule):
    """Frozen open_clip image tower with pyramid, dense (MaskCLIP) and global outputs.

    Args:
        preset (str | dict): CLIP preset name (``mmpat.models.clip.CLIP_PRESETS``) or dict.
        pretrained (str, optional): Local CLIP weights file (OpenAI ``.pt``, open_clip
            ``.bin``/``.safetensors``, converted/exported ``.pth``). None: random weights.
        out_indices (Sequence[int], optional): ViT: 1-based blocks whose outputs form the
            pyramid (default: the quarters of the depth, (3, 6, 9, 12) for 12 blocks).
            ResNet: stages 1-4 (default all four).
        frozen (bool): Freeze the image tower (default True); frozen BatchNorms stay in eval.
        unfreeze (Sequence[str]): Parameter name prefixes inside the tower to train anyway,
            e.g. ``('transformer.resblocks.11', 'ln_post', 'proj')``.
        dense_attention (str): How the last block makes the ``'dense'`` output (ViT only): a
            variant of ``DENSE_VARIANTS``: ``'maskclip'`` (default), ``'sclip'``,
            ``'clearclip'``, ``'naclip'``. No parameter is added.
        dense_mlp (bool, optional): Keep the last block's MLP branch in the dense path; None
            (default): the variant's (MaskCLIP: False, its v-only output).
        dense_residual (bool, optional): Keep the attention residual; None: the variant's.
        dense_neighbourhood_std (float, optional): NACLIP's Gaussian std in patches; None: 5.
        output_stride (int): timm towers only: 32 (default, the trained network), 16 or 8
            runs the last stages dilated instead of strided (DeepLab's atrous trick; timm's
            ``output_stride``), with the same weights: a finer ``'dense'`` grid (12 x 12
            instead of 3 x 3 at 96 px at 8) and every later pyramid map at that stride.
        out_format (str): ``'dict'`` (default): ``{'pyramid', 'dense', 'global'}`` for mmpat's
            heads; ``'tuple'``: the pyramid maps only, as a tuple for mmseg's heads
            (``in_index``), e.g. ``FCNHead`` under mmseg's ``EncoderDecoder``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        preset: str | dict[str, Any] = 'ViT-B-16',
        pretrained: str | None = None,
        out_indices: Sequence[int] | None = None,
        frozen: bool = True,
        unfreeze: Sequence[str] = (),
        dense_attention: str = 'maskclip',
        dense_mlp: bool | None = None,
        dense_residual: bool | None = None,
        dense_neighbourhood_std: float | None = None,
        output_stride: int = 32,
        out_format: str = 'dict',
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if out_format not in ('dict', 'tuple'):
            raise ValueError(
                f"out_format must be 'dict' (mmpat heads) or 'tuple' (mmseg heads), "
                f'got {out_format!r}'
            )
        self.out_format = out_format
        cfg = get_clip_preset(preset)
        self.preset = preset
        self.embed_dim = int(cfg['embed_dim'])
        self.dense_attention = dense_attention
        self.dense_variant = get_dense_variant(
            dense_attention,
            residual=dense_residual,
            mlp=dense_mlp,
            neighbourhood_std=dense_neighbourhood_std,
        )
        self.dense_mlp = self.dense_variant.mlp
        self.visual = build_clip_visual(cfg)
        self.is_vit = hasattr(self.visual, 'transformer')
        self.is_timm = hasattr(self.visual, 'trunk')
        if not self.is_vit and dense_attention != 'maskclip':
            raise ValueError(
                f'dense_attention={dense_attention!r} changes a ViT block; preset {preset!r} is a '
                "convolutional CLIP, whose dense path is MaskCLIP's: use "
                "dense_attention='maskclip' or a ViT preset"
            )
        if self.is_vit:
            if not getattr(self.visual.transformer, 'batch_first', True):
                raise ValueError('CLIPPyramid needs a batch-first open_clip transformer')
            if self.visual.attn_pool is not None or self.visual.pool_type != 'tok':
                raise ValueError('CLIPPyramid supports class-token ViTs (no attentional pool)')
            depth = len(self.visual.transformer.resblocks)
            self.width = int(self.visual.transformer.width)
            self.patch_size = int(self.visual.patch_size[0])
            default = tuple(math.ceil(depth * k / 4) for k in range(1, 5))
            valid = range(0, depth + 1)
            self.out_channels = None
        elif self.is_timm:
            depth = 4
            self._timm_stages = timm_stage_indices(self.visual, preset)
            self.width = self._timm_stages[4][1]
            self.patch_size = output_stride
            if output_stride != 32:
                self.visual.trunk = dilated_timm_trunk(self.visual.trunk, cfg, output_stride)
            default = (1, 2, 3, 4)
            valid = range(1, 5)
        if output_stride != 32 and not self.is_timm:
            raise ValueError(
                f'output_stride={output_stride} needs a timm image tower (timm_model_name); '
                f'preset {preset!r} has none: use output_stride=32'
            )
        if not self.is_vit and not self.is_timm:
            depth = 4
            width = int(cfg['vision_cfg']['width'])
            self.width = width * 32
            self.patch_size = 32
            default = (1, 2, 3, 4)
            valid = range(1, 5)
        self.out_indices = tuple(default if out_indices is None else out_indices)
        bad = [i for i in self.out_indices if i not in valid]
        if bad or not self.out_indices:
            kind = f'blocks 0..{depth}' if self.is_vit else 'stages 1..4'
            raise ValueError(
                f'out_indices {self.out_indices} invalid for preset {preset!r}: it has {kind}'
            )
        if self.is_vit:
            self.out_channels = tuple(self.width for _ in self.out_indices)
        elif self.is_timm:
            self.out_channels = tuple(self._timm_stages[i][1] for i in self.out_indices)
        else:
            self.out_channels = tuple(width * 4 * 2 ** (i - 1) for i in self.out_indices)
        self._pos_cache: dict[tuple, Tensor] = {}

        if pretrained is not None:
            state = load_clip_state_dict(pretrained, cfg)
            load_clip_tower(self.visual, state, prefix='visual.', path=pretrained)
        self.frozen = frozen
        self._set_trainable(frozen, tuple(unfreeze))

    def _set_trainable(self, frozen: bool, unfreeze: tuple[str, ...]) -> None:
        names = [n for n, _ in self.visual.named_parameters()]
        unknown = [u for u in unfreeze if not any(n == u or n.startswith(u + '.') for n in names)]
        if unknown:
            tops = sorted({n.split('.')[0] for n in names})
            raise ValueError(
                f'unfreeze prefixes {unknown} match no parameter of the image tower; its '
                f'parameters start with {tops} (e.g. "transformer.resblocks.11")'
            )
        for name, param in self.visual.named_parameters():
            thawed = any(name == u or name.startswith(u + '.') for u in unfreeze)
            param.requires_grad = (not frozen) or thawed

    def train(self, mode: bool = True) -> CLIPPyramid:
        """Switch mode; frozen BatchNorm layers keep their statistics (eval)."""
        super().train(mode)
        if mode and self.frozen:
            for module in self.visual.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    if not any(p.requires_grad for p in module.parameters()):
                        module.eval()
        return self

    # ----------------------------------------------------------------------------- helpers
    def _grid_pos(self, pos: Tensor, native: tuple[int, int], grid: tuple[int, int]) -> Tensor:
        """The positional embedding for ``grid``, cached while the weights are unchanged."""
        if tuple(native) == tuple(grid):
            return pos
        if pos.requires_grad:
            return resize_grid_embedding(pos, native, grid)
        key = (grid, pos.data_ptr(), pos._version, pos.dtype, pos.device)
        cached = self._pos_cache.get(key)
        if cached is None:
            if len(self._pos_cache) > 16:
                self._pos_cache.clear()
            cached = self._pos_cache[key] = resize_grid_embedding(pos.detach(), native, grid)
        return cached

    def forward(self, x: Tensor) -> dict[str, Any] | tuple[Tensor, ...]:
        """Compute the features.

        Args:
            x: Images [B, 3, H, W], CLIP-normalised.

        Returns:
            dict | tuple: ``out_format='dict'``: ``'pyramid'`` tuple of [B, C_i, h_i, w_i];
            ``'dense'`` [B, D, h, w]; ``'global'`` [B, D] (both not normalised).
            ``out_format='tuple'``: the ``'pyramid'`` tuple alone.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'CLIPPyramid expects images [B, 3, H, W], got {tuple(x.shape)}')
        pyramid_only = self.out_format == 'tuple'
        if self.is_vit:
            return self._forward_vit(x, pyramid_only=pyramid_only)
        if self.is_timm:
            return self._forward_timm(x, pyramid_only=pyramid_only)
        return self._forward_resnet(x, pyramid_only=pyramid_only)

    def _forward_vit(self, x: Tensor, *, pyramid_only: bool = False) -> Any:
        visual = self.visual
        if x.shape[-2] < self.patch_size or x.shape[-1] < self.patch_size:
            raise ValueError(
                f'input {tuple(x.shape)} smaller than the patch size {self.patch_size}'
            )
        x = visual.conv1(x)  # [B, C, h, w]
        batch, channels, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).view(1, 1, -1).expand(batch, -1, -1)
        x = torch.cat([cls, x], dim=1)
        x = x + self._grid_pos(visual.positional_embedding, visual.grid_size, (h, w)).to(x.dtype)
        x = visual.patch_dropout(x)
        x = visual.ln_pre(x)

        def as_map(tokens: Tensor) -> Tensor:
            # A view: [B, 1 + hw, C] -> [B, C, h, w] without copying.
            return tokens[:, 1:].transpose(1, 2).reshape(batch, channels, h, w)

        blocks = visual.transformer.resblocks
        depth = len(blocks)
        # The pyramid alone needs the blocks up to the last of out_indices only.
        last = max(self.out_indices) if pyramid_only else depth
        maps: dict[int, Tensor] = {}
        if 0 in self.out_indices:
            maps[0] = as_map(x)
        for i, block in enumerate(blocks[: min(last, depth - 1)], start=1):
            x = block(x)
            if i in self.out_indices:
                maps[i] = as_map(x)
        if pyramid_only and last < depth:
            return tuple(maps[i] for i in self.out_indices)
        x, dense = self._last_block(
            blocks[-1],
            x,
            grid=(h, w),
            need_tokens=depth in self.out_indices,
            need_dense=not pyramid_only,
        )
        if depth in self.out_indices:
            maps[depth] = as_map(x)
        if pyramid_only:
            return tuple(maps[i] for i in self.out_indices)
        pooled = visual.ln_post(x[:, 0])
        dense = visual.ln_post(dense)
        if visual.proj is not None:
            pooled = pooled @ visual.proj
            dense = dense @ visual.proj
        dense = dense.transpose(1, 2).reshape(batch, -1, h, w)
        pyramid = tuple(maps[i] for i in self.out_indices)
        return {'pyramid': pyramid, 'dense': dense, 'global': pooled}

    def _last_block(
        self,
        block: nn.Module,
        x: Tensor,
        *,
        grid: tuple[int, int],
        need_tokens: bool,
        need_dense: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Run the last block and the dense path with one shared q/k/v projection.

        Args:
            block: open_clip ``ResidualAttentionBlock``.
            x: Its input [B, N, C] (class token first).
            grid: The patch grid (h, w), N = 1 + h * w.
            need_tokens: Whether every token's output is needed (else only the class token's).
            need_dense: Whether to compute the dense tokens (else None is returned for them).

        Returns:
            tuple: The block output ([B, N, C], or [B, 1, C] with only the class token) and the
            dense tokens before ``ln_post`` [B, N - 1, C] (or None).
        """
        attn = block.attn
        if not isinstance(attn, nn.MultiheadAttention) or hasattr(block, 'ln_1_kv'):
            raise ValueError('CLIPPyramid supports open_clip default residual attention blocks')
        batch, tokens, channels = x.shape
        heads = attn.num_heads
        y = block.ln_1(x)
        qkv = F.linear(y, attn.in_proj_weight, attn.in_proj_bias)  # [B, N, 3C]
        heads_view = qkv.view(batch, tokens, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
        q_all, k, v = heads_view.unbind(0)  # [B, heads, N, C / heads]
        q = q_all if need_tokens else q_all[:, :, :1]
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, q.shape[2], channels)
        residual = x if need_tokens else x[:, :1]
        out = residual + block.ls_1(attn.out_proj(out))
        out = out + block.ls_2(block.mlp(block.ln_2(out)))
        if not need_dense:
            return out, None
        variant = self.dense_variant
        if variant.attention == 'value':
            # MaskCLIP: the value of each patch token, no q-k mixing.
            mixed = qkv[:, 1:, 2 * channels :]
        else:
            mixed = mix_values(
                variant.attention,
                q_all,
                k,
                v,
                grid=grid,
                neighbourhood_std=variant.neighbourhood_std,
                queries=slice(1, None),
            )
            mixed = mixed.transpose(1, 2).reshape(batch, tokens - 1, channels)
        dense = block.ls_1(attn.out_proj(mixed))
        if variant.residual:
            dense = x[:, 1:] + dense
        if variant.mlp:
            dense = dense + block.ls_2(block.mlp(block.ln_2(dense)))
        return out, dense

    def _forward_resnet(self, x: Tensor, *, pyramid_only: bool = False) -> Any:
        visual = self.visual
        feats = []
        x = visual.stem(x)
        stages = (visual.layer1, visual.layer2, visual.layer3, visual.layer4)
        for stage in stages[: max(self.out_indices) if pyramid_only else 4]:
            x = stage(x)
            feats.append(x)
        if pyramid_only:
            return tuple(feats[i - 1] for i in self.out_indices)
        last = feats[-1]
        pool = visual.attnpool
        batch, channels, h, w = last.shape
        native = int(round(math.sqrt(pool.positional_embedding.shape[0] - 1)))
        pos = self._grid_pos(pool.positional_embedding, (native, native), (h, w))
        tokens = last.flatten(2).permute(2, 0, 1)  # [hw, B, C]
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0)
        tokens = tokens + pos[:, None, :].to(tokens.dtype)
        pooled, _ = F.multi_head_attention_forward(
            query=tokens[:1],
            key=tokens,
            value=tokens,
            embed_dim_to_check=channels,
            num_heads=pool.num_heads,
            q_proj_weight=pool.q_proj.weight,
            k_proj_weight=pool.k_proj.weight,
            v_proj_weight=pool.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=0.0,
            out_proj_weight=pool.c_proj.weight,
            out_proj_bias=pool.c_proj.bias,
            use_separate_proj_weight=True,
            training=self.training,
            need_weights=False,
        )
        # MaskCLIP for ResNets: v and c projections as 1x1 convolutions over the last stage.
        dense = F.conv2d(last, pool.v_proj.weight[:, :, None, None], pool.v_proj.bias)
        dense = F.conv2d(dense, pool.c_proj.weight[:, :, None, None], pool.c_proj.bias)
        pyramid = tuple(feats[i - 1] for i in self.out_indices)
        return {'pyramid': pyramid, 'dense': dense, 'global': pooled[0]}

    def _forward_timm(self, x: Tensor, *, pyramid_only: bool = False) -> Any:
        trunk, head = self.visual.trunk, self.visual.head
        wanted = sorted({self._timm_stages[i][0] for i in self.out_indices})
        if pyramid_only:
            maps = trunk.forward_intermediates(
                x, indices=wanted, stop_early=True, intermediates_only=True
            )
        else:
            last, maps = trunk.forward_intermediates(x, indices=wanted)
        by_index = dict(zip(wanted, maps))
        pyramid = tuple(by_index[self._timm_stages[i][0]] for i in self.out_indices)
        if pyramid_only:
            return pyramid
        pooled = head(trunk.forward_head(last))
        # The same pooling head on every location, each a 1 x 1 image (see the module doc).
        batch, channels, h, w = last.shape
        pixels = last.permute(0, 2, 3, 1).reshape(batch * h * w, channels, 1, 1)
        dense = head(trunk.forward_head(pixels))
        dense = dense.reshape(batch, h, w, -1).permute(0, 3, 1, 2)
        return {'pyramid': pyramid, 'dense': dense, 'global': pooled}
