"""EMAVectorQuantizer: lookup against brute force, straight-through gradients, commitment loss,
EMA formula, eval mode, dead-code restart, usage statistics, data / k-means init, chunking."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from mmpat.models.utils import scale_gradient
from mmpat.models.utils.vector_quantizer import EMAVectorQuantizer, QuantizerOutput


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def quantizer(**kwargs):
    torch.manual_seed(0)
    kwargs = dict(dict(num_codes=16, dim=8, data_init=False), **kwargs)
    return EMAVectorQuantizer(**kwargs)


def buffers(module):
    return {name: b.clone() for name, b in module.named_buffers()}


def brute_force_nearest(latents, codebook):
    cosine = F.normalize(latents, dim=1) @ F.normalize(codebook, dim=1).t()
    return cosine.argmax(dim=1), cosine.max(dim=1).values


def basis_codebook(q, num_codes, dim):
    """Codes e_0 .. e_{K-1} (one-hot directions, so assignments are easy to control)."""
    q.codebook.copy_(torch.eye(num_codes, dim))


def near(code, count, dim, noise=0.1, seed=0):
    """``count`` unit latents close to the basis direction ``code``."""
    g = torch.Generator().manual_seed(seed)
    x = noise * torch.randn(count, dim, generator=g)
    x[:, code] += 1.0
    return F.normalize(x, dim=1)


@pytest.mark.parametrize('chunk_size', [7, 16384])
@pytest.mark.parametrize('training', [True, False])
def test_outputs_are_codebook_rows_of_the_nearest_codes(chunk_size, training):
    q = quantizer(chunk_size=chunk_size, restart_after=0).train(training)
    latents = unit(50, 8)
    codebook = q.codebook.clone()  # training updates the codebook after the lookup
    out = q(latents)
    assert isinstance(out, QuantizerOutput)
    expected, _ = brute_force_nearest(latents, codebook)
    assert out.indices.dtype == torch.long and out.indices.shape == (50,)
    assert torch.equal(out.indices, expected)
    assert torch.allclose(out.quantized, codebook[expected], atol=1e-6)
    assert len(set(expected.tolist())) > 4  # a real lookup, not one code for everything


def test_nearest_returns_indices_and_cosine_and_handles_empty_input():
    q = quantizer(chunk_size=5)
    latents = unit(23, 8, seed=3)
    indices, cosine = q.nearest(latents)
    expected, best = brute_force_nearest(latents, q.codebook)
    assert torch.equal(indices, expected)
    assert torch.allclose(cosine, best, atol=1e-6)
    indices, cosine = q.nearest(latents[:0])
    assert indices.shape == (0,) and indices.dtype == torch.long and cosine.shape == (0,)


class _ScoreShapes(TorchFunctionMode):
    """Records the shapes of every 2-D result with ``num_codes`` columns (the score matrices)."""

    def __init__(self, num_codes):
        super().__init__()
        self.num_codes, self.rows = num_codes, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if (
            torch.is_tensor(out)
            and out.dim() == 2
            and out.shape[1] == self.num_codes
            and out.is_floating_point()
        ):
            self.rows.append(out.shape[0])
        return out


def test_nearest_works_in_chunks_of_chunk_size_latents():
    q = quantizer(num_codes=16, dim=8, chunk_size=64)
    latents = unit(1000, 8, seed=1)
    recorder = _ScoreShapes(16)
    with recorder:
        indices, _ = q.nearest(latents)
    # never an N x K score matrix: ceil(1000 / 64) products of at most 64 rows
    assert recorder.rows and max(recorder.rows) <= 64
    assert sum(recorder.rows) >= 1000 and len(recorder.rows) >= math.ceil(1000 / 64)
    assert torch.equal(indices, brute_force_nearest(latents, q.codebook)[0])


def test_straight_through_gradient_reaches_the_latents():
    q = quantizer().train()
    latents = unit(30, 8).requires_grad_()
    out = q(latents)
    weights = torch.randn(30, 8)
    (out.quantized * weights).sum().backward()
    # d quantized / d latents is the identity
    assert torch.allclose(latents.grad, weights, atol=1e-6)
    # the value is the code, not the latent
    assert not torch.allclose(out.quantized, latents, atol=1e-3)


def test_commitment_loss_is_beta_times_mean_squared_distance():
    q = quantizer(beta=0.3).eval()
    latents = unit(40, 8, seed=2).requires_grad_()
    out = q(latents)
    codes = q.codebook[out.indices]
    expected = 0.3 * ((latents - codes) ** 2).sum(dim=1).mean()
    assert out.loss.shape == ()
    assert torch.allclose(out.loss, expected, atol=1e-6)
    # 2 - 2 cos for unit vectors
    cosine = (latents * codes).sum(dim=1)
    assert torch.allclose(out.loss, 0.3 * (2 - 2 * cosine).mean(), atol=1e-5)
    # the gradient goes to the latents only (the codes are a stop-gradient)
    out.loss.backward()
    expected_grad = 0.3 * 2 * (latents - codes) / 40
    assert torch.allclose(latents.grad, expected_grad, atol=1e-6)


def test_ema_update_follows_the_formula_and_moves_codes_toward_their_latents():
    decay = 0.8
    q = quantizer(num_codes=4, dim=8, decay=decay, restart_after=0).train()
    torch.manual_seed(1)
    q.codebook.copy_(unit(4, 8, seed=5))
    old_size = torch.tensor([1.0, 2.0, 3.0, 4.0])
    old_sum = q.codebook * old_size[:, None]
    q.cluster_size.copy_(old_size)
    q.embed_sum.copy_(old_sum)
    old_codebook = q.codebook.clone()
    latents = unit(60, 8, seed=6)
    indices, _ = brute_force_nearest(latents, old_codebook)
    q(latents)
    counts = torch.bincount(indices, minlength=4).float()
    sums = torch.zeros(4, 8).index_add_(0, indices, latents)
    assert torch.allclose(q.cluster_size, decay * old_size + (1 - decay) * counts, atol=1e-6)
    assert torch.allclose(q.embed_sum, decay * old_sum + (1 - decay) * sums, atol=1e-6)
    assert torch.allclose(q.codebook, F.normalize(q.embed_sum, dim=1), atol=1e-6)
    assert int(q.step) == 1
    assert torch.equal(q.last_used, (counts > 0).long())
    for code in range(4):
        if counts[code] == 0:
            continue
        mean = F.normalize(latents[indices == code].mean(dim=0), dim=0)
        before, after = float(old_codebook[code] @ mean), float(q.codebook[code] @ mean)
        assert after > before, f'code {code} did not move toward its latents'


def test_ema_keeps_a_code_without_mass():
    q = quantizer(num_codes=4, dim=8, restart_after=0).train()
    basis_codebook(q, 4, 8)
    q(near(0, 10, 8))  # only code 0 is used, the others have no running sum
    assert torch.equal(q.codebook[1:], torch.eye(4, 8)[1:])
    assert torch.allclose(q.codebook.norm(dim=1), torch.ones(4), atol=1e-6)


@pytest.mark.parametrize('data_init', [False, True])
def test_eval_mode_does_not_change_buffers(data_init):
    q = quantizer(data_init=data_init, restart_after=1, dead_window=1).eval()
    before = buffers(q)
    for seed in range(3):
        out = q(unit(20, 8, seed=seed))
    assert all(torch.equal(before[name], b) for name, b in q.named_buffers())
    assert float(out.dead_codes) == 0.0  # no step was taken
    q.train()
    q(unit(20, 8))
    assert not torch.equal(before['codebook'], q.codebook)


def test_dead_code_is_restarted_onto_the_worst_represented_latent():
    decay = 0.9
    q = quantizer(num_codes=4, dim=8, decay=decay, restart_after=2).train()
    basis_codebook(q, 4, 8)
    # code 3 is never the nearest; codes 0-2 are
    batches = [torch.cat([near(c, 5, 8, seed=10 * s + c) for c in range(3)]) for s in range(2)]
    q(batches[0])
    assert int(q.last_reset.max()) == 0, 'restarted after 1 step with restart_after=2'
    codebook, size = q.codebook.clone(), q.cluster_size.clone()
    indices, cosine = brute_force_nearest(batches[1], codebook)
    assert 3 not in indices.tolist()
    q(batches[1])
    counts = torch.bincount(indices, minlength=4).float()
    mean_count = (decay * size + (1 - decay) * counts).mean()
    worst = batches[1][(1 - cosine).argmax()]
    assert torch.allclose(q.codebook[3], worst, atol=1e-6)
    assert torch.allclose(q.cluster_size[3], mean_count, atol=1e-6)
    assert torch.allclose(q.embed_sum[3], worst * mean_count, atol=1e-6)
    assert q.last_reset.tolist() == [0, 0, 0, 2]
    # the live codes were not touched by the restart
    assert torch.allclose(q.cluster_size[:3], decay * size[:3] + (1 - decay) * counts[:3])


def test_a_restarted_code_gets_restart_after_steps_before_another_restart():
    q = quantizer(num_codes=4, dim=8, restart_after=2).train()
    basis_codebook(q, 4, 8)
    clusters = torch.cat([near(c, 4, 8, noise=0.05, seed=c) for c in range(3)])
    outlier = F.normalize(torch.tensor([[0.0, 0, 0, -1, 0, 1, 0, 0]]), dim=1)
    q(clusters)  # step 1: code 3 unused
    q(torch.cat([clusters, outlier]))  # step 2: code 3 restarted onto the outlier
    assert torch.allclose(q.codebook[3], outlier[0]) and q.last_reset.tolist() == [0, 0, 0, 2]
    q(clusters)  # step 3: unused for 1 step since its restart: kept
    assert q.last_reset.tolist() == [0, 0, 0, 2]
    q(clusters)  # step 4: unused for 2 steps since its restart: restarted again
    assert q.last_reset.tolist() == [0, 0, 0, 4]


def test_several_dead_codes_take_the_worst_latents_in_order():
    q = quantizer(num_codes=6, dim=8, restart_after=1).train()
    basis_codebook(q, 6, 8)
    latents = torch.cat([near(0, 6, 8, noise=0.05), near(1, 6, 8, noise=0.3, seed=1)])
    codebook = q.codebook.clone()
    indices, cosine = brute_force_nearest(latents, codebook)
    assert set(indices.tolist()) == {0, 1}
    q(latents)  # codes 2-5 unused for 1 step: all dead
    order = (1 - cosine).argsort(descending=True)
    assert torch.allclose(q.codebook[2:], latents[order[:4]], atol=1e-6)
    assert q.last_reset.tolist() == [0, 0, 1, 1, 1, 1]


def test_restart_uses_at_most_the_batch_and_can_be_disabled():
    q = quantizer(num_codes=8, dim=8, restart_after=1).train()
    basis_codebook(q, 8, 8)
    q(near(0, 3, 8))  # 7 dead codes, 3 latents
    assert int((q.last_reset == 1).sum()) == 3
    off = quantizer(num_codes=8, dim=8, restart_after=0).train()
    basis_codebook(off, 8, 8)
    for _ in range(3):
        off(near(0, 3, 8))
    assert int(off.last_reset.max()) == 0
    assert torch.equal(off.codebook[1:], torch.eye(8)[1:])


def test_dead_codes_counts_codes_unused_in_the_last_window():
    q = quantizer(num_codes=4, dim=8, restart_after=0, dead_window=3).train()
    basis_codebook(q, 4, 8)
    both = torch.cat([near(0, 4, 8), near(1, 4, 8, seed=1)])
    assert float(q(both).dead_codes) == 0.0  # step 1: nothing is 3 steps old yet
    assert float(q(both).dead_codes) == 0.0  # step 2
    assert float(q(both).dead_codes) == 0.5  # step 3: codes 2 and 3 unused for 3 steps
    out = q(torch.cat([both, near(2, 4, 8, seed=2)]))  # step 4 uses code 2
    assert float(out.dead_codes) == 0.25
    assert float(q(both).dead_codes) == 0.25  # code 2 was used 1 step ago
    # a restart is not a use: a restarted code that stays unused still counts as dead
    r = quantizer(num_codes=4, dim=8, restart_after=1, dead_window=1).train()
    basis_codebook(r, 4, 8)
    out = r(near(0, 2, 8))
    assert int((r.last_reset == 1).sum()) == 2 and float(out.dead_codes) == 0.75


def test_perplexity_is_exp_entropy_of_the_code_histogram():
    q = quantizer(num_codes=4, dim=8, restart_after=0).eval()
    basis_codebook(q, 4, 8)
    assert float(q(near(0, 10, 8)).perplexity) == pytest.approx(1.0)
    uniform = torch.cat([near(c, 5, 8, seed=c) for c in range(4)])
    assert float(q(uniform).perplexity) == pytest.approx(4.0, rel=1e-5)
    q = quantizer(num_codes=16, dim=8).train()
    out = q(unit(64, 8, seed=4))
    probs = torch.bincount(out.indices, minlength=16).float() / 64
    probs = probs[probs > 0]
    expected = torch.exp(-(probs * probs.log()).sum())
    assert float(out.perplexity) == pytest.approx(float(expected), rel=1e-5)
    assert 1.0 < float(out.perplexity) <= 16.0


def clustered(num_clusters=3, per_cluster=20, dim=16, noise=0.05, seed=0):
    centres = unit(num_clusters, dim, seed=seed + 100)
    g = torch.Generator().manual_seed(seed)
    points = centres.repeat_interleave(per_cluster, 0)
    points = points + noise * torch.randn(points.shape, generator=g)
    return F.normalize(points, dim=1), centres


def test_data_init_takes_codes_from_the_first_training_batch():
    latents, centres = clustered(dim=16)
    q = quantizer(num_codes=8, dim=16, data_init=True, restart_after=0)
    assert not bool(q.initialised)
    q._init_from_data(latents)
    assert bool(q.initialised)
    assert torch.allclose(q.codebook.norm(dim=1), torch.ones(8), atol=1e-6)
    cos_to_data = q.codebook @ latents.t()
    assert torch.allclose(cos_to_data.max(dim=1).values, torch.ones(8), atol=1e-5)
    assert len(set(cos_to_data.argmax(dim=1).tolist())) == 8  # distinct latents (N >= K)
    assert not q.cluster_size.any() and not q.embed_sum.any()
    # fewer latents than codes: codes are latents (with repeats)
    small = quantizer(num_codes=8, dim=16, data_init=True)
    small._init_from_data(latents[:3])
    cos = small.codebook @ latents[:3].t()
    assert torch.allclose(cos.max(dim=1).values, torch.ones(8), atol=1e-5)

    # through forward: only on the first training batch, then every code sits on the data
    # (random unit codes in 16 dims would mostly be left far from the 3 clusters)
    q = quantizer(num_codes=8, dim=16, data_init=True, restart_after=0)
    q.eval()
    q(latents)
    assert not bool(q.initialised)
    q.train()
    q(latents)
    assert bool(q.initialised)
    assert ((q.codebook @ centres.t()).max(dim=1).values > 0.95).all()
    q._init_from_data = lambda *args: pytest.fail('re-initialised on the second batch')
    q(latents)
    assert int(q.step) == 2


def kmeans_objective(latents, codebook):
    return float((latents @ codebook.t()).max(dim=1).values.mean())


def test_kmeans_init_refines_the_data_init():
    latents, centres = clustered(num_clusters=4, per_cluster=15, dim=16, noise=0.3)
    plain = quantizer(num_codes=4, dim=16, data_init=True)
    plain._init_from_data(latents)
    km = quantizer(num_codes=4, dim=16, kmeans_init=True, kmeans_iters=20)
    assert km.data_init and not bool(km.initialised)  # kmeans_init implies data_init
    km._init_from_data(latents)
    assert torch.allclose(km.codebook.norm(dim=1), torch.ones(4), atol=1e-6)
    # a fixed point of spherical k-means: every code is the direction of its members' sum
    assign = (latents @ km.codebook.t()).argmax(dim=1)
    sums = torch.zeros(4, 16).index_add_(0, assign, latents)
    used = torch.bincount(assign, minlength=4) > 0
    assert torch.allclose(km.codebook[used], F.normalize(sums[used], dim=1), atol=1e-5)
    # the plain init (single latents) is not such a fixed point, and k-means improves it
    assign = (latents @ plain.codebook.t()).argmax(dim=1)
    sums = torch.zeros(4, 16).index_add_(0, assign, latents)
    assert not torch.allclose(plain.codebook, F.normalize(sums, dim=1), atol=1e-3)
    assert kmeans_objective(latents, km.codebook) > kmeans_objective(latents, plain.codebook)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match='num_codes and dim'):
        EMAVectorQuantizer(num_codes=0, dim=8)
    with pytest.raises(ValueError, match='decay'):
        EMAVectorQuantizer(num_codes=4, dim=8, decay=1.0)
    with pytest.raises(ValueError, match=r'expected latents \[N, 8\]'):
        quantizer()(torch.randn(4, 6))


def test_scale_gradient():
    x = torch.randn(5, requires_grad=True)
    assert not scale_gradient(x, 0.0).requires_grad  # 0 detaches
    for scale in (0.1, 1.0, 2.5):
        x.grad = None
        y = scale_gradient(x, scale)
        assert torch.allclose(y, x, atol=1e-6)
        y.sum().backward()
        assert torch.allclose(x.grad, torch.full((5,), scale))
