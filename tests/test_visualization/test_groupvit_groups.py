"""GroupViT stage-group maps and picture, and the groups demo."""

from __future__ import annotations

import importlib.util
import os.path as osp

import numpy as np
import torch
from mmseg.registry import MODELS
from PIL import Image

from mmpat.visualization import draw_stage_groups, groupvit_stage_groups

ROOT = osp.join(osp.dirname(__file__), '..', '..')


def test_stage_maps_follow_the_assignment_products():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='GroupViTZeroShot', arch='GroupViT-test')).eval()
    image = torch.randn(1, 3, 48, 64)
    maps = groupvit_stage_groups(model.backbone, image)
    soft = model.backbone(image)['soft_assigns']
    import torch.nn.functional as F

    def resized_argmax(assign):  # [N, S] -> [48, 64]
        grid = assign.t().reshape(1, -1, 3, 4)
        return F.interpolate(grid, size=(48, 64), mode='bilinear').argmax(1)[0]

    assert len(maps) == 2
    assert torch.equal(maps[0], resized_argmax(soft[0][0].t()))
    assert torch.equal(maps[1], resized_argmax(soft[0][0].t() @ soft[1][0].t()))
    # mostly the token's own group (bilinear only changes pixels near token borders)
    assert (maps[0][8::16, 8::16] == soft[0][0].argmax(0).reshape(3, 4)).float().mean() > 0.6
    assert maps[0].max() < 8 and maps[1].max() < 2
    picture = draw_stage_groups(np.zeros((48, 64, 3), np.uint8), [m.numpy() for m in maps])
    assert picture.shape == (68, 192, 3)


def test_demo_writes_picture(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='GroupViTZeroShot', arch='GroupViT-test'))
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    config = tmp_path / 'cfg.py'
    config.write_text("model = dict(type='GroupViTZeroShot', arch='GroupViT-test')\n")
    img = tmp_path / 'img.png'
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8)).save(img)
    spec = importlib.util.spec_from_file_location(
        'groupvit_groups_demo', osp.join(ROOT, 'demo', 'groupvit_groups_demo.py')
    )
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    out = tmp_path / 'groups.png'
    assert demo.main([str(img), str(config), str(ckpt), '--out', str(out)]) == 0
    assert Image.open(out).size == (3 * 80, 64 + 20)
    assert demo.main([str(img), str(config), str(tmp_path / 'missing.pth')]) == 2
