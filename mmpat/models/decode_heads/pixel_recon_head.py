"""``PixelReconHead``: PAT's pixel branch, the tokens visualised back to RGB (spec 3.3)."""

from __future__ import annotations

import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class PixelReconHead(BaseDecodeHead):
    """Top-down visualisation of the token features: a small conv upsampler to RGB.

    Used as an auxiliary head of ``OpenVocabEncoderDecoder`` after ``PyramidTokenizer``. It
    reads ``inputs[in_key]`` (the shared decoder's ``'token_features'`` [B, C, h, w]) and
    returns an image [B, 3, h * 2**num_upsample, w * 2**num_upsample] in the normalised input
    space (the data preprocessor's mean/std).

    Loss (our choice: L1, weight 1.0): ``loss_weight * |recon - target|``, averaged, where the
    target is the normalised input image ``inputs['images']`` (the segmentor adds it). When the
    target's size differs from the reconstruction (an input that is not a multiple of the
    output stride, or ``num_upsample`` giving 1/2 resolution), the target is resized to the
    reconstruction's size (bilinear, antialiased); a target of another aspect ratio is refused,
    since it cannot be the image these features came from.

    Args:
        in_channels (int): Channels of the token features.
        channels (int): Channels of the first upsampling stage (halved at each stage, at least
            16). Default 64.
        num_upsample (int): x2 stages (2: from 1/4 to the input resolution).
        loss_weight (float): Weight of the reconstruction loss.
        in_key (str): Key of the features in the segmentor's feature dict.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes`` is unused).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        channels: int = 64,
        num_upsample: int = 2,
        loss_weight: float = 1.0,
        in_key: str = 'token_features',
        num_classes: int = 1,
        init_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            num_classes=max(num_classes, 2),
            init_cfg=init_cfg,
            **kwargs,
        )
        del self.conv_seg  # the output is an image, not class logits
        self.num_classes = self.out_channels = num_classes
        self.loss_weight = loss_weight
        self.in_key = in_key
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1), nn.GELU()]
        width = channels
        for _ in range(num_upsample):
            narrower = max(width // 2, 16)
            layers += [
                nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
                nn.Conv2d(width, narrower, 3, padding=1),
                nn.GELU(),
            ]
            width = narrower
        layers.append(nn.Conv2d(width, 3, 1))
        self.upsampler = nn.Sequential(*layers)

    def init_weights(self) -> None:
        """PyTorch's default initialisation (no classifier to initialise)."""

    def forward(self, inputs: dict) -> Tensor:
        """Reconstruct the image.

        Args:
            inputs (dict): Holds ``inputs[in_key]`` [B, C, h, w].

        Returns:
            Tensor: [B, 3, h * 2**num_upsample, w * 2**num_upsample].
        """
        if self.in_key not in inputs:
            raise KeyError(
                f'PixelReconHead reads {self.in_key!r}, which the features lack (keys: '
                f'{sorted(inputs)}): put PyramidTokenizer with a decoder in the neck'
            )
        return self.upsampler(inputs[self.in_key])

    def recon_loss(self, recon: Tensor, target: Tensor) -> Tensor:
        """L1 loss between a reconstruction and its (resized) target image.

        Args:
            recon: [B, 3, h, w].
            target: [B, 3, H, W], normalised like the model input.

        Returns:
            Tensor: Scalar (already weighted).
        """
        if target.dim() != 4 or target.shape[:2] != recon.shape[:2]:
            raise ValueError(
                f'PixelReconHead: reconstruction target {tuple(target.shape)} does not match the '
                f'reconstruction {tuple(recon.shape)} (need [B, 3, H, W], same batch)'
            )
        if target.shape[-2:] != recon.shape[-2:]:
            (th, tw), (rh, rw) = target.shape[-2:], recon.shape[-2:]
            scale_h, scale_w = th / rh, tw / rw
            if abs(scale_h - scale_w) > 0.2 * max(scale_h, scale_w):
                raise ValueError(
                    f'PixelReconHead: target of size {th}x{tw} has another aspect ratio than '
                    f'the reconstruction {rh}x{rw}; it is not the image these tokens came from'
                )
            target = F.interpolate(
                target, size=(rh, rw), mode='bilinear', align_corners=False, antialias=True
            )
        return self.loss_weight * F.l1_loss(recon, target.to(recon.dtype))

    def loss(self, inputs: dict, batch_data_samples, train_cfg) -> dict:
        """Reconstruction loss on the normalised input images ``inputs['images']``.

        Returns:
            dict: ``loss_recon``.
        """
        if 'images' not in inputs:
            raise KeyError(
                "PixelReconHead needs the input images under 'images' (OpenVocabEncoderDecoder "
                'adds them to the features)'
            )
        return {'loss_recon': self.recon_loss(self.forward(inputs), inputs['images'])}

    def predict(self, inputs: dict, batch_img_metas, test_cfg) -> Tensor:
        """The reconstruction (the pixel branch has no class logits)."""
        return self.forward(inputs)
