"""Exporting a CLIPContrastive to open_clip's layout: re-loading with open_clip alone gives the
same outputs; writes are atomic; mismatches and missing files give clear errors."""

from __future__ import annotations

import json

import open_clip
import pytest
import torch
from mmseg.registry import MODELS
from open_clip.model import CLIP

from mmpat.apis.clip_export import (
    export_clip_weights,
    load_clip_export,
    open_clip_state_dict,
    save_clip_weights,
)
from mmpat.models.clip.presets import get_clip_preset


@pytest.fixture
def model():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='CLIPContrastive', preset='ViT-test'))
    with torch.no_grad():  # move every weight away from its init, so a skipped key shows
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model.eval()


def test_export_reloads_with_plain_open_clip(model, tmp_path):
    out = tmp_path / 'sub' / 'clip.pth'
    weights, sidecar = export_clip_weights(model, str(out))
    assert sidecar == str(tmp_path / 'sub' / 'clip.json')
    preset = json.loads((tmp_path / 'sub' / 'clip.json').read_text())
    assert preset == json.loads(json.dumps(get_clip_preset('ViT-test')))
    state = torch.load(weights, weights_only=True)
    assert set(state) == set(CLIP(**preset).state_dict())
    assert all(type(v) is torch.Tensor for v in state.values())
    clip = CLIP(**preset)
    clip.load_state_dict(state)
    clip.eval()
    images = torch.randn(2, 3, 32, 32)
    tokens = open_clip.tokenize(['a photo of a red circle.', 'a star'], context_length=77)
    with torch.no_grad():
        torch.testing.assert_close(clip.encode_image(images), model.clip.encode_image(images))
        torch.testing.assert_close(clip.encode_text(tokens), model.clip.encode_text(tokens))
        torch.testing.assert_close(
            clip.encode_text(tokens, normalize=True),
            model.encode_text(['a photo of a red circle.', 'a star']),
        )
    loaded = load_clip_export(weights)
    torch.testing.assert_close(loaded.logit_scale, model.clip.logit_scale)
    assert not list(tmp_path.glob('sub/.*'))  # no temporary files left


def test_state_dict_conversion_strips_prefixes(model):
    wrapped = {'module.' + k: v for k, v in model.state_dict().items()}
    state = open_clip_state_dict(wrapped)
    assert set(state) == set(model.clip.state_dict())
    with pytest.raises(KeyError, match='not a CLIPContrastive'):
        open_clip_state_dict({'backbone.weight': torch.zeros(1)})


def test_failed_write_keeps_the_old_file(model, tmp_path, monkeypatch):
    out = tmp_path / 'clip.pth'
    export_clip_weights(model, str(out))
    before = out.read_bytes()

    def broken_save(obj, f):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        export_clip_weights(model, str(out))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['clip.json', 'clip.pth']


def test_mismatch_and_missing_files(model, tmp_path):
    state = {k: v for k, v in model.clip.state_dict().items() if k != 'logit_scale'}
    with pytest.raises(ValueError, match='missing'):
        save_clip_weights(state, 'ViT-test', str(tmp_path / 'x.pth'))
    with pytest.raises(ValueError, match='other shapes'):
        save_clip_weights(model.clip.state_dict(), 'ViT-scenes-tiny', str(tmp_path / 'x.pth'))
    assert not (tmp_path / 'x.pth').exists()
    with pytest.raises(FileNotFoundError, match='clip-tiny_scenes'):
        load_clip_export(str(tmp_path / 'none.pth'))
    torch.save(model.clip.state_dict(), tmp_path / 'bare.pth')
    with pytest.raises(FileNotFoundError, match='sidecar'):
        load_clip_export(str(tmp_path / 'bare.pth'))
    assert load_clip_export(str(tmp_path / 'bare.pth'), preset='ViT-test') is not None
