"""Fast in-memory experiment harness for the scenes CLIP (not shipped; lab use only)."""

import argparse
import json
import math
import os.path as osp
import time

import numpy as np
import torch
import torch.nn.functional as F
from open_clip import tokenize
from open_clip.model import CLIP
from PIL import Image

import mmpat  # noqa
from mmpat.evaluation.clip_zeroshot import clip_zeroshot_dominant

p = argparse.ArgumentParser()
p.add_argument('--data', default='data/scenes')
p.add_argument('--arch', default='vit')
p.add_argument('--patch', type=int, default=16)
p.add_argument('--width', type=int, default=128)
p.add_argument('--layers', type=int, default=4)
p.add_argument('--rn-width', type=int, default=16)
p.add_argument('--loss', default='infonce')  # infonce | objects | dominant | unicl
p.add_argument('--words', action='store_true', help='also colour/shape word positives')
p.add_argument('--freeze-text', action='store_true')
p.add_argument('--iters', type=int, default=800)
p.add_argument('--bs', type=int, default=64)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--eval-every', type=int, default=200)
p.add_argument('--template', default='a photo of a {}.')
p.add_argument('--out', default=None)
p.add_argument('--rn-layers', default='1,1,1,1')
p.add_argument('--pool', default='avg')
p.add_argument('--embed', type=int, default=128)
p.add_argument('--timm-name', default='test_resnet', help='--arch timm: the timm trunk')
p.add_argument('--init-scale', type=float, default=None, help='initial exp(logit_scale)')
p.add_argument('--train-text-proj', action='store_true', help='with --freeze-text: train it')
p.add_argument('--area-power', type=float, default=1.0, help='--loss area: weight exponent')
p.add_argument('--attn-scale', type=float, default=1.0, help='RN attention pool: q/k init scale')
a = p.parse_args()
torch.manual_seed(0)
np.random.seed(0)

caps = [json.loads(line) for line in open(osp.join(a.data, 'captions/pretrain.jsonl'))]
anns = [json.loads(line) for line in open(osp.join(a.data, 'annotations/pretrain.jsonl'))]
cache = osp.join(a.data.rstrip('/') + '_pretrain_u8.npy')
cache = '/tmp/' + cache.replace('/', '_')
if osp.exists(cache):
    imgs = np.load(cache)
else:
    imgs = np.stack(
        [np.asarray(Image.open(osp.join(a.data, c['image'])).convert('RGB')) for c in caps]
    )
    np.save(cache, imgs)
imgs = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1) * 255
std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1) * 255

text_cfg = dict(context_length=24, vocab_size=49408, width=128, heads=4, layers=4)
if a.arch == 'vit':
    vision = dict(image_size=96, layers=a.layers, width=a.width, patch_size=a.patch, head_width=32)
elif a.arch == 'timm':
    vision = dict(image_size=96, timm_model_name=a.timm_name, timm_pool=a.pool, timm_proj='linear')
else:
    vision = dict(
        image_size=96,
        layers=[int(v) for v in a.rn_layers.split(',')],
        width=a.rn_width,
        patch_size=None,
    )
preset = dict(embed_dim=a.embed, vision_cfg=vision, text_cfg=text_cfg, quick_gelu=False)
model = CLIP(**preset)
if a.arch == 'cnn':
    nn = torch.nn

    def blk(i, o):
        return [
            nn.Conv2d(i, o, 3, padding=1, bias=False),
            nn.BatchNorm2d(o),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]

    model.visual = nn.Sequential(
        *blk(3, 32),
        *blk(32, 64),
        *blk(64, 128),
        *blk(128, 128),
        nn.AdaptiveMaxPool2d(1) if a.pool == 'max' else nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, a.embed),
    )
    model.visual.image_size = 96
if a.arch == 'rn' and a.attn_scale != 1.0:
    with torch.no_grad():
        model.visual.attnpool.q_proj.weight.mul_(a.attn_scale)
        model.visual.attnpool.k_proj.weight.mul_(a.attn_scale)
if a.freeze_text:
    for n, prm in model.named_parameters():
        if not n.startswith('visual') and n != 'logit_scale':
            prm.requires_grad_(a.train_text_proj and n == 'text_projection')
if a.init_scale is not None:
    with torch.no_grad():
        model.logit_scale.fill_(math.log(a.init_scale))
CLS = sorted({o['name'] for r in anns for o in r['objects']})
head = torch.nn.Parameter(torch.randn(30, a.embed) * 0.1)
decay, no_decay = [head], []
for n, prm in model.named_parameters():
    if not prm.requires_grad:
        continue
    (no_decay if prm.ndim < 2 or 'embedding' in n or 'logit_scale' in n else decay).append(prm)
opt = torch.optim.AdamW(
    [dict(params=decay, weight_decay=0.1), dict(params=no_decay, weight_decay=0.0)],
    lr=a.lr,
    betas=(0.9, 0.98),
    eps=1e-6,
)
warm = 50


def lr_at(it):
    if it < warm:
        return a.lr * (1e-3 + (1 - 1e-3) * it / warm)
    t = (it - warm) / max(a.iters - warm, 1)
    return 1e-5 + 0.5 * (a.lr - 1e-5) * (1 + math.cos(math.pi * t))


def texts_for(idx):
    """Returns (texts list, positive matrix (B, T))."""
    if a.loss == 'infonce':
        t = [caps[i]['captions'][np.random.randint(len(caps[i]['captions']))] for i in idx]
        return t, torch.eye(len(idx))
    if a.loss == 'unicl':
        t = [caps[i]['captions'][np.random.randint(len(caps[i]['captions']))] for i in idx]
        uniq = sorted(set(t))
        P = torch.zeros(len(idx), len(uniq))
        for r, s in enumerate(t):
            P[r, uniq.index(s)] = 1
        return uniq, P
    phrases = []
    for i in idx:
        objs = anns[i]['objects']
        if a.loss == 'dominant':
            names = [anns[i]['dominant']]
        else:
            names = [o['name'] for o in objs]
        ph = [a.template.format(n) for n in names]
        if a.loss == 'area':  # soft targets proportional to each object's visible pixels
            w = {}
            for o in objs:
                key = a.template.format(o['name'])
                w[key] = w.get(key, 0.0) + float(o['visible_pixels']) ** a.area_power
            phrases.append(w)
            continue
        if a.words:
            ph += [a.template.format(n.split(' ')[1]) for n in names]
            ph += [a.template.format(n.split(' ')[0] + ' object') for n in names]
        phrases.append(set(ph))
    uniq = sorted(set().union(*phrases))
    P = torch.zeros(len(idx), len(uniq))
    for r, s in enumerate(phrases):
        for x in s:
            P[r, uniq.index(x)] = s[x] if isinstance(s, dict) else 1
    return uniq, P


def multi_pos_loss(img, txt, scale, P):
    li = scale * img @ txt.T
    i2t = -(P / P.sum(1, keepdim=True) * F.log_softmax(li, 1)).sum(1).mean()
    Pt = P.T
    t2i = -(Pt / Pt.sum(1, keepdim=True) * F.log_softmax(li.T, 1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


def evaluate(it):
    model.eval()
    with torch.no_grad():
        r = clip_zeroshot_dominant(
            model, a.data.replace('_pretrainonly', ''), split='val', template='a photo of a {}.'
        )
    model.train()
    print(
        f'EVAL it={it} acc={100 * r["acc"]:.1f} seen={100 * r["acc_seen"]:.1f} '
        f'unseen={100 * r["acc_unseen"]:.1f}',
        flush=True,
    )
    return r


model.train()
rng = np.random.default_rng(0)
t0 = time.time()
for it in range(a.iters):
    for g in opt.param_groups:
        g['lr'] = lr_at(it)
    idx = rng.choice(len(caps), size=a.bs, replace=False)
    x = imgs[idx].float()
    flip_h = torch.rand(a.bs) < 0.25
    flip_v = torch.rand(a.bs) < 0.25
    x[flip_h] = x[flip_h].flip(-1)
    x[flip_v] = x[flip_v].flip(-2)
    x = (x - mean) / std
    img = model.encode_image(x, normalize=True)
    if a.loss == 'sup':
        y = torch.tensor([CLS.index(anns[i]['dominant']) for i in idx])
        loss = F.cross_entropy(10 * img @ F.normalize(head, dim=1).T, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 50 == 0:
            print(f'it {it} loss {loss.item():.3f} {time.time() - t0:.0f}s', flush=True)
        if (it + 1) % a.eval_every == 0:
            model.eval()
            with torch.no_grad():
                vi = [json.loads(line) for line in open(osp.join(a.data, 'annotations/val.jsonl'))]
                xv = torch.stack(
                    [
                        torch.from_numpy(
                            np.asarray(Image.open(osp.join(a.data, r['image'])).convert('RGB'))
                        ).permute(2, 0, 1)
                        for r in vi
                    ]
                ).float()
                pv = (model.encode_image((xv - mean) / std, normalize=True) @ head.T).argmax(1)
                yv = torch.tensor([CLS.index(r['dominant']) for r in vi])
                print(f'EVAL it={it + 1} sup acc={(pv == yv).float().mean() * 100:.1f}', flush=True)
            model.train()
        continue
    texts, P = texts_for(idx)
    txt = model.encode_text(tokenize(texts, context_length=24), normalize=True)
    scale = model.logit_scale.clamp(max=math.log(100)).exp()
    loss = multi_pos_loss(img, txt, scale, P)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([q for q in model.parameters() if q.requires_grad], 1.0)
    opt.step()
    if it % 50 == 0:
        print(
            f'it {it} loss {loss.item():.3f} scale {scale.item():.1f} T={len(texts)} '
            f'{time.time() - t0:.0f}s',
            flush=True,
        )
    if (it + 1) % a.eval_every == 0:
        evaluate(it + 1)
print(f'TIME {time.time() - t0:.0f}s for {a.iters} iters')
if a.out:
    torch.save(model.state_dict(), a.out)
