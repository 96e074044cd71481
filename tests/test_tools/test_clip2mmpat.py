"""clip2mmpat: HF CLIPModel -> open_clip parity (random weights), formats, checksum, errors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from mmpat.apis.clip_export import load_clip_export
from mmpat.models.clip import build_open_clip, get_clip_preset

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'model_converters' / 'clip2mmpat.py'


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('clip2mmpat', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hf_model():
    """A random transformers CLIPModel with the 'ViT-test' preset's architecture."""
    from transformers import CLIPConfig, CLIPModel

    preset = get_clip_preset('ViT-test')
    vision, text = preset['vision_cfg'], preset['text_cfg']
    config = CLIPConfig(
        text_config=dict(
            vocab_size=text['vocab_size'],
            hidden_size=text['width'],
            intermediate_size=4 * text['width'],
            num_hidden_layers=text['layers'],
            num_attention_heads=text['heads'],
            max_position_embeddings=text['context_length'],
            hidden_act='gelu',
            eos_token_id=49407,
        ),
        vision_config=dict(
            hidden_size=vision['width'],
            intermediate_size=4 * vision['width'],
            num_hidden_layers=vision['layers'],
            num_attention_heads=vision['width'] // vision['head_width'],
            image_size=vision['image_size'],
            patch_size=vision['patch_size'],
            hidden_act='gelu',
        ),
        projection_dim=preset['embed_dim'],
    )
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    with torch.no_grad():  # HF zero-inits some biases; randomise every weight
        for param in model.parameters():
            param.normal_(0, 0.1)
    return model


def test_hf_clipmodel_parity(tool, tmp_path):
    hf = _hf_model()
    src = tmp_path / 'hf'
    hf.save_pretrained(src)  # model.safetensors + config.json
    dst = tmp_path / 'out' / 'clip_hf.pth'
    assert tool.main([str(src), str(dst), '--preset', 'ViT-test']) == 0
    model = load_clip_export(str(dst))  # reads the .json sidecar
    images = torch.randn(2, 3, 32, 32)
    tokens = open_clip.tokenize(['a photo of a cat.', 'a dog on the grass next to a tree'])
    with torch.no_grad():
        ours_img, ours_txt = model.encode_image(images), model.encode_text(tokens)
        ref_img = hf.get_image_features(pixel_values=images)
        ref_txt = hf.get_text_features(input_ids=tokens)
    ref_img = getattr(ref_img, 'pooler_output', ref_img)
    ref_txt = getattr(ref_txt, 'pooler_output', ref_txt)
    assert (ours_img - ref_img).abs().max() < 1e-5
    assert (ours_txt - ref_txt).abs().max() < 1e-5
    assert torch.equal(model.logit_scale.detach(), hf.logit_scale.detach())


def test_outputs_checksum_and_inferred_preset(tool, tmp_path):
    torch.manual_seed(0)
    model = build_open_clip('ViT-test')
    src = tmp_path / 'open_clip_model.safetensors'
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(src))
    dst = tmp_path / 'clip.pth'
    out = tool.convert(str(src), str(dst))  # preset inferred from shapes
    assert out['preset'] == 'ViT-test'
    state = torch.load(dst, weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert json.loads((tmp_path / 'clip.json').read_text()) == json.loads(
        json.dumps(get_clip_preset('ViT-test'))
    )
    digest = hashlib.sha256(dst.read_bytes()).hexdigest()
    assert (tmp_path / 'clip.pth.sha256').read_text() == f'{digest}  clip.pth\n'
    # Refuses to overwrite; --force does.
    assert tool.main([str(src), str(dst)]) == 1
    assert tool.main([str(src), str(dst), '--force']) == 0


def test_errors(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path / 'missing.pt'), str(tmp_path / 'x.pth')]) == 1
    assert 'missing.pt' in capsys.readouterr().err
    torch.save(build_open_clip('ViT-test').state_dict(), tmp_path / 'test.bin')
    assert (
        tool.main(
            [str(tmp_path / 'test.bin'), str(tmp_path / 'y.pth'), '--preset', 'ViT-scenes-tiny']
        )
        == 1
    )
    err = capsys.readouterr().err
    assert 'another architecture' in err and "fits the preset 'ViT-test'" in err
    assert not (tmp_path / 'y.pth').exists()
