"""mmseg's own Mask2Former and MaskFormer configs build and train a step on CPU under mmpat.

They need mmdet (``pip install -e .[mmdet]``); its compiled-op imports and the deformable
attention of Mask2Former's pixel decoder come from mmpat's pure-PyTorch ``mmcv.ops``.
The models keep the configs' layout, shrunk: 64 px images, fewer queries, layers and points.
"""

from pathlib import Path

import mmseg
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData

pytest.importorskip('mmdet', reason='mmdet is not installed (pip install -e .[mmdet])')

from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

SIZE = 64
CONFIGS = [
    'mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',
    'maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py',
]
# The configs mmseg's wheel ships inside the package.
SHIPPED = Path(mmseg.__file__).parent / '.mim' / 'configs'


def tiny(cfg: ConfigDict) -> ConfigDict:
    model = cfg.model
    model.data_preprocessor.size = (SIZE, SIZE)
    model.backbone.init_cfg = None  # no torchvision:// download
    model.pretrained = None
    head = model.decode_head
    head.num_queries = 8
    if head.type.endswith('Mask2FormerHead'):
        head.transformer_decoder.num_layers = 1
        head.pixel_decoder.encoder.num_layers = 1
        head.train_cfg.num_points = 64
    else:
        head.transformer_decoder.num_layers = 1
    model.test_cfg = dict(mode='whole')
    return model


def batch(count: int) -> dict:
    generator = torch.Generator().manual_seed(count)
    inputs, samples = [], []
    for _ in range(count):
        inputs.append(torch.randint(0, 256, (3, SIZE, SIZE), generator=generator).byte())
        labels = torch.randint(0, 3, (1, SIZE, SIZE), generator=generator)
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('name', CONFIGS, ids=['mask2former', 'maskformer'])
def test_mmseg_config_trains_a_step_and_predicts(name):
    cfg = Config.fromfile(str(SHIPPED / name))
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(tiny(cfg)))
    assert type(model.decode_head).__mro__[1].__module__.startswith('mmdet.')
    model.train()
    data = model.data_preprocessor(batch(2), training=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total) and any(k.endswith('loss_mask') for k in losses)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if 'mask2former' in name:
        # the deformable attention of the pixel decoder learns too
        attention = model.decode_head.pixel_decoder.encoder.layers[0].self_attn
        assert type(attention).__module__ == 'mmpat.compat.mmcv_ops.multi_scale_deform_attn'
        assert attention.sampling_offsets.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch(1), training=False)
        (out,) = model.predict(data['inputs'], data['data_samples'])
    assert out.seg_logits.data.shape == (150, SIZE, SIZE)
    assert torch.isfinite(out.seg_logits.data).all()
