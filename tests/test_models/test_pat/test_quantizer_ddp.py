"""EMAVectorQuantizer under DDP: 2 gloo processes with half a batch each update the codebook
exactly as 1 process does on the whole batch (EMA counts and sums, dead-code restarts)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from helpers.two_processes import run_in_two_processes

from mmpat.models.utils.vector_quantizer import EMAVectorQuantizer

STEPS, BATCH, CODES, DIM = 4, 24, 12, 8


def make_quantizer() -> EMAVectorQuantizer:
    torch.manual_seed(0)  # data_init=False: both processes start from the same random codebook
    return EMAVectorQuantizer(
        num_codes=CODES, dim=DIM, decay=0.8, restart_after=2, dead_window=2, data_init=False
    ).train()


def batches() -> list[torch.Tensor]:
    """Latents around 3 directions, so most codes go unused and get restarted at step 2.

    The last batch is shifted so that its worst-represented latents are in the second half
    (the part of process 1).
    """
    g = torch.Generator().manual_seed(1)
    centres = F.normalize(torch.randn(3, DIM, generator=g), dim=1)
    out = []
    for step in range(STEPS):
        x = centres[torch.randint(3, (BATCH,), generator=g)]
        noise = 0.2 if step < STEPS - 1 else torch.linspace(0.05, 1.0, BATCH)[:, None]
        out.append(F.normalize(x + noise * torch.randn(BATCH, DIM, generator=g), dim=1))
    return out


def run(rows: slice) -> dict[str, torch.Tensor]:
    q = make_quantizer()
    stats = []
    for latents in batches():
        out = q(latents[rows])
        stats.append(torch.stack([out.perplexity, out.dead_codes]))
    return dict(
        codebook=q.codebook.clone(),
        cluster_size=q.cluster_size.clone(),
        embed_sum=q.embed_sum.clone(),
        last_used=q.last_used.double(),
        last_reset=q.last_reset.double(),
        stats=torch.stack(stats),
    )


def data_init_codebook(rows: slice) -> torch.Tensor:
    q = EMAVectorQuantizer(num_codes=CODES, dim=DIM, data_init=True, restart_after=0)
    q._init_from_data(batches()[0][rows])
    return q.codebook.clone()


def _rank_update(rank: int, world: int) -> dict[str, torch.Tensor]:
    half = BATCH // world
    rows = slice(rank * half, (rank + 1) * half)
    result = run(rows)
    result['data_init'] = data_init_codebook(rows)
    # the helper averages over the processes: also return process 0's own values, so that
    # average == process 0 == single process means both processes agree with it
    own = {f'{k}_rank0': v * world if rank == 0 else torch.zeros_like(v) for k, v in result.items()}
    return dict(result, **own)


def test_two_processes_update_the_codebook_as_one(tmp_path):
    single = run(slice(0, BATCH))
    # the scenario exercises restarts, including after the first restart step
    assert (single['last_reset'] == 2).sum() > 0 and (single['last_reset'] > 2).sum() > 0
    # a process alone on its half would differ (the test can tell the two apart)
    alone = run(slice(0, BATCH // 2))
    assert not torch.allclose(alone['codebook'], single['codebook'], atol=1e-3)

    distributed = run_in_two_processes(_rank_update, tmp_path)
    for key in ('codebook', 'cluster_size', 'embed_sum', 'last_used', 'last_reset', 'stats'):
        assert torch.allclose(distributed[key], single[key], atol=1e-6), key
        assert torch.allclose(distributed[f'{key}_rank0'], single[key], atol=1e-6), key
    # the data-dependent init: every process takes the latents of process 0
    first_half = data_init_codebook(slice(0, BATCH // 2))
    assert not torch.allclose(first_half, data_init_codebook(slice(BATCH // 2, BATCH)))
    assert torch.allclose(distributed['data_init'], first_half, atol=1e-6)
    assert torch.allclose(distributed['data_init_rank0'], first_half, atol=1e-6)
