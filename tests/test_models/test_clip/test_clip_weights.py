"""Every CLIP weights format round-trips into open_clip's layout; bad files fail clearly."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import save_file

from mmpat.apis.clip_export import save_clip_weights
from mmpat.models.backbones import CLIPPyramid
from mmpat.models.clip import build_open_clip, load_clip_state_dict
from mmpat.models.text_encoders import OpenCLIPTextEncoder


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_open_clip('ViT-test')


def _assert_same(state, model):
    reference = model.state_dict()
    assert set(state) == set(reference)
    for key, value in reference.items():
        assert state[key].dtype == torch.float32
        assert torch.equal(state[key], value.float()), key


def test_open_clip_bin_and_wrapped(tmp_path, model):
    path = tmp_path / 'open_clip_pytorch_model.bin'
    torch.save(model.state_dict(), path)
    _assert_same(load_clip_state_dict(str(path), 'ViT-test'), model)
    wrapped = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {'module.' + k: v for k, v in model.state_dict().items()}}, wrapped)
    _assert_same(load_clip_state_dict(str(wrapped), 'ViT-test'), model)
    torch.save({'model': model.state_dict(), 'epoch': 3}, tmp_path / 'm.pt')  # .pt, not TorchScript
    _assert_same(load_clip_state_dict(str(tmp_path / 'm.pt'), 'ViT-test'), model)


def test_safetensors(tmp_path, model):
    path = tmp_path / 'open_clip_model.safetensors'
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    _assert_same(load_clip_state_dict(str(path), 'ViT-test'), model)


@pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')
def test_torchscript_archive_fp16(tmp_path, model):
    # OpenAI releases traced fp16 models; trace ours and store it in half precision.
    tokens = torch.zeros(1, 77, dtype=torch.long)
    tokens[0, :3] = torch.tensor([49406, 320, 49407])
    # (tracing shares the parameters: trace a copy before halving)
    traced = torch.jit.trace(
        copy.deepcopy(model), (torch.randn(1, 3, 32, 32), tokens), check_trace=False
    )
    path = tmp_path / 'ViT-test.pt'
    traced.half().save(str(path))
    state = load_clip_state_dict(str(path), 'ViT-test')
    reference = {k: v.half().float() for k, v in model.state_dict().items()}
    assert set(state) == set(reference)
    assert all(torch.equal(state[k], reference[k]) for k in reference)


def test_mmpat_export_with_sidecar_into_both_towers(tmp_path, model):
    path = str(tmp_path / 'clip_tiny.pth')
    save_clip_weights(model.state_dict(), 'ViT-test', path)
    _assert_same(load_clip_state_dict(path, 'ViT-test'), model)
    backbone = CLIPPyramid(preset='ViT-test', pretrained=path)
    encoder = OpenCLIPTextEncoder(preset='ViT-test', pretrained=path)
    x = torch.randn(1, 3, 32, 32)
    tokens = encoder.tokenize(['a photo of a cat.'])
    with torch.no_grad():
        assert (backbone(x)['global'] - model.encode_image(x)).abs().max() < 1e-5
        assert (encoder.encode_tokens(tokens) - model.encode_text(tokens)).abs().max() < 1e-5
    # A sidecar that names another architecture is refused, naming the fields.
    sidecar = tmp_path / 'clip_tiny.json'
    sidecar.write_text(json.dumps(dict(json.loads(sidecar.read_text()), embed_dim=64)))
    with pytest.raises(ValueError, match='embed_dim'):
        load_clip_state_dict(path, 'ViT-test')


def test_wrong_architecture_names_shapes_and_fitting_preset(tmp_path):
    path = tmp_path / 'scenes.bin'
    torch.save(build_open_clip('ViT-scenes-tiny').state_dict(), path)
    with pytest.raises(ValueError) as error:
        load_clip_state_dict(str(path), 'ViT-test')
    message = str(error.value)
    assert 'another architecture' in message and 'vs preset' in message
    assert "fits the preset 'ViT-scenes-tiny'" in message


def test_missing_unexpected_and_foreign_files(tmp_path, model):
    with pytest.raises(FileNotFoundError, match='nothing.pt'):
        load_clip_state_dict(str(tmp_path / 'nothing.pt'), 'ViT-test')
    torch.save({'conv.weight': torch.zeros(3)}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='not a CLIP weights file'):
        load_clip_state_dict(str(tmp_path / 'other.pth'), 'ViT-test')
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(Exception, match='junk.pt'):
        load_clip_state_dict(str(tmp_path / 'junk.pt'), 'ViT-test')
    text_only = {k: v for k, v in model.state_dict().items() if not k.startswith('visual.')}
    text_only['extra.weight'] = torch.zeros(2)
    torch.save(text_only, tmp_path / 'text_only.pth')
    with pytest.warns(UserWarning, match='no image tower') as record:
        state = load_clip_state_dict(str(tmp_path / 'text_only.pth'), 'ViT-test')
    assert 'extra.weight' in str(record[0].message) and 'extra.weight' not in state
    with pytest.warns(UserWarning), pytest.raises(ValueError, match='lacks .* weights'):
        CLIPPyramid(preset='ViT-test', pretrained=str(tmp_path / 'text_only.pth'))
    with pytest.warns(UserWarning):
        OpenCLIPTextEncoder(preset='ViT-test', pretrained=str(tmp_path / 'text_only.pth'))
