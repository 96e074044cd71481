"""GroupViT projector: Linear -> BatchNorm1d -> ReLU -> Linear (GroupViT, Xu et al., CVPR 2022).

The released checkpoints store the two linear layers as Conv1d(k=1); the converter squeezes
their weights. Names follow them: ``linear_hidden.{0,1}``, ``linear_out``.
"""

from __future__ import annotations

from torch import Tensor, nn


class GroupViTProjector(nn.Module):
    """Project features to the joint image-text space.

    Args:
        in_dim (int): Input channels (384 image, 256 text for GroupViT-S).
        hidden_dim (int): Hidden channels (4096).
        out_dim (int): Output channels (256).
    """

    def __init__(self, *, in_dim: int, hidden_dim: int = 4096, out_dim: int = 256) -> None:
        super().__init__()
        self.linear_hidden = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)
        )
        self.linear_out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim] (BatchNorm over all leading positions)."""
        lead = x.shape[:-1]
        x = self.linear_out(self.linear_hidden(x.reshape(-1, x.shape[-1])))
        return x.reshape(*lead, -1)
