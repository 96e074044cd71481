"""GroupViT image encoder (hierarchical grouping ViT), registered as backbone ``GroupViT``.

GroupViT (Xu et al., CVPR 2022; ``docs/methods/groupvit.md``). Defaults are GroupViT-S. Its
output dict is what ``GroupViTZeroShotHead`` reads under ``OpenVocabEncoderDecoder`` (the
group tokens, the grouping assignments, the token grid and the mean of the groups, which the
head projects into the image embedding). Our choices (config fields): ``gumbel=True``,
``hard_assignment=True``, ``gumbel_tau=1.0``, ``assign_eps=1.0`` (all as the paper), and the
position embedding is bicubic-interpolated (``align_corners=False``) whenever the token grid
differs from the pretraining grid, so any input size works.

``patch_embed`` (our option, default the paper's linear patchify) takes any registered patch
embedding instead, e.g. the BatchNorm CNN ``ConvStem`` of ``projects/groupvit_scenes/``: a
module built with ``in_channels`` and ``embed_dim``, with a ``patch_size`` attribute (its total
stride) and ``forward(x) -> (tokens [B, h*w, C], (h, w))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from .blocks import GroupingBlock, TokenMixMlp, TransformerBlock


class PatchEmbed(nn.Module):
    """Conv2d patchify (kernel = stride = patch) followed by LayerNorm."""

    def __init__(self, *, in_channels: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """[B, 3, H, W] -> tokens [B, h*w, C] and the grid (h, w)."""
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), grid


class GroupingStage(nn.Module):
    """Transformer blocks over [tokens; group tokens], then (optionally) a grouping block.

    Args:
        dim, num_heads, mlp_ratio: Block sizes.
        drop_paths (Sequence[float]): Stochastic depth per block (its length is the depth).
        num_group_token (int): Learnable group tokens of this stage (0: no grouping).
        num_output_group (int): Segments out of the grouping block.
        num_prev_group (int): Group tokens of the previous grouping stage (>0: the group
            tokens get ``group_projector(previous group tokens)`` added).
        grouping (dict): Extra GroupingBlock arguments (gumbel, hard, tau, eps, mlp ratio).
        zero_init_group_token (bool): Zero-init the group tokens (stages after the first).
    """

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        drop_paths: Sequence[float],
        num_group_token: int,
        num_output_group: int,
        num_prev_group: int,
        grouping: dict,
        zero_init_group_token: bool,
    ) -> None:
        super().__init__()
        self.num_group_token = num_group_token
        self.blocks = nn.ModuleList(
            TransformerBlock(dim=dim, num_heads=num_heads, mlp_ratio=mlp_ratio, drop_path=p)
            for p in drop_paths
        )
        self.group_token = None
        self.downsample = None
        self.group_projector = None
        if num_group_token > 0:
            self.group_token = nn.Parameter(torch.zeros(1, num_group_token, dim))
            if not zero_init_group_token:
                nn.init.trunc_normal_(self.group_token, std=0.02)
            self.downsample = GroupingBlock(
                dim=dim,
                num_heads=num_heads,
                num_group_token=num_group_token,
                num_output_group=num_output_group,
                **grouping,
            )
            if num_prev_group > 0:
                self.group_projector = nn.Sequential(
                    nn.LayerNorm(dim),
                    TokenMixMlp(
                        in_dim=num_prev_group, hidden_dim=dim // 2, out_dim=num_group_token
                    ),
                )

    def forward(
        self, x: Tensor, prev_group_tokens: Tensor | None
    ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None, Tensor]:
        """Run the stage.

        Args:
            x (Tensor): Tokens [B, N, C].
            prev_group_tokens (Tensor | None): Group tokens of the previous stage [B, S', C].

        Returns:
            tuple: tokens out [B, S_out or N, C], group tokens after the blocks [B, S_in, C] or
            None, soft assignment [B, S_out, N] or None, forward assignment or None, and the
            tokens after the blocks, before grouping [B, N, C].
        """
        if self.group_token is None:
            for block in self.blocks:
                x = block(x)
            return x, None, None, None, x
        group = self.group_token.expand(x.shape[0], -1, -1)
        if self.group_projector is not None:
            group = group + self.group_projector(prev_group_tokens)
        cat = torch.cat([x, group], dim=1)
        for block in self.blocks:
            cat = block(cat)
        x, group = cat[:, : -self.num_group_token], cat[:, -self.num_group_token :]
        grouped, soft, assign = self.downsample(x, group)
        return grouped, group, soft, assign, x


@MODELS.register_module()
class GroupViT(BaseModule):
    """GroupViT image encoder (defaults: GroupViT-S).

    Args:
        img_size (int): Pretraining image side (size of ``pos_embed``: (img/patch)^2 tokens).
        patch_size (int): Patch side.
        in_channels (int): Image channels.
        embed_dim (int): Channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden / channels of the ViT blocks.
        depths (Sequence[int]): Blocks per stage.
        num_group_tokens (Sequence[int]): Group tokens per stage (0 for the last).
        num_output_groups (Sequence[int]): Segments out of each grouping stage.
        drop_path_rate (float): Stochastic depth, linear from 0 over all blocks.
        assign_mlp_ratio (tuple[float, float]): Grouping block MLP ratios (0.5, 4).
        gumbel (bool): Gumbel noise on the assignment in training.
        hard_assignment (bool): One-hot (straight-through) assignment.
        gumbel_tau (float): Gumbel temperature.
        assign_eps (float): Assignment normaliser epsilon.
        patch_embed (dict, optional): A registered patch embedding replacing the linear
            patchify (the paper's: None), built with ``in_channels`` and ``embed_dim``; its
            ``patch_size`` attribute (total stride) must equal ``patch_size``.
        pretrained (str, optional): A GroupViT checkpoint (released ``.pth``, HF state dict or
            mmpat checkpoint) whose image encoder is loaded.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        img_size: int = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        embed_dim: int = 384,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        depths: Sequence[int] = (6, 3, 3),
        num_group_tokens: Sequence[int] = (64, 8, 0),
        num_output_groups: Sequence[int] = (64, 8),
        drop_path_rate: float = 0.1,
        assign_mlp_ratio: tuple[float, float] = (0.5, 4.0),
        gumbel: bool = True,
        hard_assignment: bool = True,
        gumbel_tau: float = 1.0,
        assign_eps: float = 1.0,
        patch_embed: dict | None = None,
        pretrained: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(num_group_tokens) != len(depths):
            raise ValueError(
                f'num_group_tokens {tuple(num_group_tokens)} needs one entry per stage '
                f'(depths {tuple(depths)})'
            )
        grouping_stages = [i for i, n in enumerate(num_group_tokens) if n > 0]
        if len(num_output_groups) < len(grouping_stages):
            raise ValueError(
                f'num_output_groups {tuple(num_output_groups)} needs one entry per grouping stage '
                f'({len(grouping_stages)})'
            )
        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.in_channels = in_channels
        if patch_embed is None:
            self.patch_embed = PatchEmbed(
                in_channels=in_channels, embed_dim=embed_dim, patch_size=patch_size
            )
        else:
            cfg = dict(patch_embed, in_channels=in_channels, embed_dim=embed_dim)
            self.patch_embed = MODELS.build(cfg)
            stride = getattr(self.patch_embed, 'patch_size', None)
            if stride != patch_size:
                raise ValueError(
                    f'patch_embed {patch_embed.get("type")!r} has a total stride (patch_size '
                    f'attribute) of {stride}, not patch_size {patch_size}'
                )
        self.pretrain_grid = (img_size // patch_size, img_size // patch_size)
        num_patches = self.pretrain_grid[0] * self.pretrain_grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        grouping = dict(
            assign_mlp_ratio=tuple(assign_mlp_ratio),
            gumbel=gumbel,
            hard=hard_assignment,
            gumbel_tau=gumbel_tau,
            assign_eps=assign_eps,
        )
        self.layers = nn.ModuleList()
        start, prev_groups, out_index = 0, 0, 0
        for stage, depth in enumerate(depths):
            n_group = num_group_tokens[stage]
            n_out = num_output_groups[out_index] if n_group > 0 else 0
            self.layers.append(
                GroupingStage(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    drop_paths=rates[start : start + depth],
                    num_group_token=n_group,
                    num_output_group=n_out,
                    num_prev_group=prev_groups,
                    grouping=grouping,
                    zero_init_group_token=stage > 0,
                )
            )
            start += depth
            if n_group > 0:
                # The projector mixes this stage's group tokens (after its blocks).
                prev_groups = n_group
                out_index += 1
        self.norm = nn.LayerNorm(embed_dim)
        self.apply(self._init_linear)
        if pretrained is not None:
            from .convert import load_groupvit_part

            load_groupvit_part(self, pretrained, 'backbone.')

    @staticmethod
    def _init_linear(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def interpolate_pos_embed(self, grid: tuple[int, int]) -> Tensor:
        """Position embedding for a token grid (bicubic if it differs from pretraining).

        Args:
            grid (tuple[int, int]): Token grid (h, w).

        Returns:
            Tensor: [1, h*w, C].
        """
        if tuple(grid) == self.pretrain_grid:
            return self.pos_embed
        h0, w0 = self.pretrain_grid
        pos = self.pos_embed.reshape(1, h0, w0, -1).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=grid, mode='bicubic', align_corners=False)
        return pos.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], -1)

    def forward(self, inputs: Tensor) -> dict:
        """Encode images.

        Args:
            inputs (Tensor): Normalised images [B, 3, H, W] (any size >= one patch).

        Returns:
            dict: ``tokens`` [B, S, C] final (normed) segment tokens; ``pooled`` [B, C] their
            mean; ``soft_assigns`` list per grouping stage of [B, S_out, N_in] (softmax over
            groups); ``assigns`` the assignments used in the forward pass (hard one-hot);
            ``grid`` (h, w) token grid of the input; ``stage_tokens`` list per grouping stage
            of its image tokens after its blocks, before grouping [B, N_in, C].
        """
        if inputs.dim() != 4 or inputs.shape[1] != self.in_channels:
            raise ValueError(
                f'GroupViT expects images [B, {self.in_channels}, H, W], got {tuple(inputs.shape)}'
            )
        if min(inputs.shape[2:]) < self.patch_size:
            raise ValueError(
                f'image {tuple(inputs.shape[2:])} is smaller than one {self.patch_size}px patch'
            )
        x, grid = self.patch_embed(inputs)
        x = x + self.interpolate_pos_embed(grid)
        group_tokens = None
        soft_assigns: list[Tensor] = []
        assigns: list[Tensor] = []
        stage_tokens: list[Tensor] = []
        for layer in self.layers:
            x, group_tokens, soft, assign, before = layer(x, group_tokens)
            if soft is not None:
                soft_assigns.append(soft)
                assigns.append(assign)
                stage_tokens.append(before)
        tokens = self.norm(x)
        return dict(
            tokens=tokens,
            pooled=tokens.mean(dim=1),
            soft_assigns=soft_assigns,
            assigns=assigns,
            grid=grid,
            stage_tokens=stage_tokens,
        )
