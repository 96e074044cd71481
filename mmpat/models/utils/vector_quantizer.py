"""``EMAVectorQuantizer``: cosine-similarity vector quantisation with EMA codebook updates.

The building block of PAT's tokenizer (``docs/methods/pat.md``, neck). One codebook of
``num_codes`` unit vectors of ``dim`` dimensions:

- lookup: the nearest code of an L2-normalised latent by cosine similarity, found by matrix
  products over chunks of the latents (an N x K score matrix per chunk, never N x K x D);
- straight-through gradients: the output is ``z + sg(q - z)``, so the gradient reaches ``z``;
- commitment loss ``beta * mean_n ||z_n - sg(q_n)||^2`` (per-vector squared distance, so it does
  not shrink with ``dim``; ``2 - 2 cos`` for unit vectors);
- EMA codebook (VQ-VAE-2): running assignment counts and running sums of the assigned latents
  (decay ``decay``); a code is the direction of its running sum (spherical k-means step);
- data-dependent init on the first training batch (``data_init``), optionally refined by
  ``kmeans_iters`` spherical k-means iterations (``kmeans_init``);
- dead-code restart: a code not assigned any latent for ``restart_after`` steps is moved onto a
  latent of the batch and its EMA statistics are reset to that latent (count: the mean count),
  so stale statistics cannot pull it back. Our choice of the latents: the ones worst
  represented by the codebook (largest ``1 - cos``), which is deterministic and therefore the
  same on every process;
- DDP: counts and sums are all-reduced every step and the restart candidates are all-gathered,
  so N processes update the codebook exactly as one process does on the concatenated batch.
  The data-dependent init uses the latents of process 0, broadcast.

Usage statistics per step: ``perplexity`` (exp of the entropy of the batch's code histogram,
between 1 and ``num_codes``) and ``dead_codes`` (fraction of codes not assigned any latent in the
last ``dead_window`` steps; a restart does not count as a use, so restarted codes that stay
unused still count as dead).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


def _world() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _all_reduce(tensor: Tensor) -> Tensor:
    if _world() > 1:
        dist.all_reduce(tensor)
    return tensor


@dataclass
class QuantizerOutput:
    """What :meth:`EMAVectorQuantizer.forward` returns (all for N latents of D dims).

    Attributes:
        quantized: [N, D] straight-through output (values: code rows; gradient: to the input).
        indices: [N] long, the nearest code of each latent.
        loss: Scalar commitment loss (already multiplied by ``beta``).
        perplexity: Scalar, exp(entropy) of the code histogram of this step (all processes).
        dead_codes: Scalar, fraction of codes unused in the last ``dead_window`` steps.
    """

    quantized: Tensor
    indices: Tensor
    loss: Tensor
    perplexity: Tensor
    dead_codes: Tensor


class EMAVectorQuantizer(nn.Module):
    """Cosine-similarity vector quantiser with EMA updates and dead-code restart.

    Args:
        num_codes (int): Codebook size K.
        dim (int): Code dimension D.
        decay (float): EMA decay of the counts and sums (0.99, VQ-VAE-2).
        beta (float): Commitment loss weight (0.25, VQ-VAE).
        restart_after (int): Restart a code after this many training steps without any
            assigned latent (0 disables restarts). Our choice: 100.
        dead_window (int): Window (steps) of the ``dead_codes`` statistic. Default: 100.
        data_init (bool): Initialise the codebook from the first training batch (our choice:
            True; otherwise random unit vectors).
        kmeans_init (bool): Refine that init by spherical k-means (implies ``data_init``).
        kmeans_iters (int): k-means iterations.
        chunk_size (int): Latents per nearest-code matrix product (bounds the memory to
            ``chunk_size x K`` scores).
    """

    def __init__(
        self,
        *,
        num_codes: int,
        dim: int,
        decay: float = 0.99,
        beta: float = 0.25,
        restart_after: int = 100,
        dead_window: int = 100,
        data_init: bool = True,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
        chunk_size: int = 16384,
    ) -> None:
        super().__init__()
        if num_codes < 1 or dim < 1:
            raise ValueError(f'num_codes and dim must be >= 1, got {num_codes} and {dim}')
        if not 0.0 <= decay < 1.0:
            raise ValueError(f'decay must be in [0, 1), got {decay}')
        self.num_codes, self.dim = num_codes, dim
        self.decay, self.beta = decay, beta
        self.restart_after, self.dead_window = restart_after, dead_window
        self.data_init = data_init or kmeans_init
        self.kmeans_init, self.kmeans_iters = kmeans_init, kmeans_iters
        self.chunk_size = chunk_size
        self.register_buffer('codebook', F.normalize(torch.randn(num_codes, dim), dim=1))
        self.register_buffer('cluster_size', torch.zeros(num_codes))
        self.register_buffer('embed_sum', torch.zeros(num_codes, dim))
        # Training steps seen, and the step each code was last assigned / restarted.
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self.register_buffer('last_used', torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer('last_reset', torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer('initialised', torch.tensor(not self.data_init))

    def extra_repr(self) -> str:
        return f'num_codes={self.num_codes}, dim={self.dim}, decay={self.decay}, beta={self.beta}'

    # ------------------------------------------------------------------------------ lookup
    @torch.no_grad()
    def nearest(self, latents: Tensor) -> tuple[Tensor, Tensor]:
        """Nearest code by cosine similarity.

        Args:
            latents: [N, D], L2-normalised.

        Returns:
            tuple: indices [N] (long) and their cosine similarity [N].
        """
        codebook = self.codebook.to(latents.dtype)
        indices, scores = [], []
        for chunk in latents.split(self.chunk_size):
            best = (chunk @ codebook.t()).max(dim=1)
            indices.append(best.indices)
            scores.append(best.values)
        if not indices:
            empty = latents.new_zeros(0)
            return empty.long(), empty
        return torch.cat(indices), torch.cat(scores)

    def forward(self, latents: Tensor) -> QuantizerOutput:
        """Quantise latents (and, in training mode, update the codebook afterwards).

        Args:
            latents: [N, D], L2-normalised (the caller normalises; see ``PyramidTokenizer``).

        Returns:
            QuantizerOutput: straight-through quantised latents, indices, commitment loss and
            usage statistics.
        """
        if latents.dim() != 2 or latents.shape[1] != self.dim:
            raise ValueError(f'expected latents [N, {self.dim}], got {tuple(latents.shape)}')
        latents = latents.float()
        if self.training and not bool(self.initialised):
            self._init_from_data(latents.detach())
        indices, cosine = self.nearest(latents.detach())
        quantized = self.codebook[indices]
        if latents.requires_grad:
            loss = self.beta * (latents - quantized).pow(2).sum(dim=1).mean()
        else:  # the same value for unit vectors, ||z - q||^2 = 2 - 2 cos, without a pass
            loss = self.beta * (2.0 - 2.0 * cosine).mean()
        counts = torch.bincount(indices, minlength=self.num_codes).float()
        counts = _all_reduce(counts)
        if self.training:
            self._ema_update(latents.detach(), indices, counts)
            self._restart_dead(latents.detach(), cosine)
        probs = counts / counts.sum().clamp(min=1.0)
        perplexity = torch.exp(-(probs * torch.log(probs.clamp(min=1e-12))).sum())
        unused = (self.step - self.last_used) >= self.dead_window
        if latents.requires_grad:
            quantized = latents + (quantized - latents).detach()  # straight-through
        return QuantizerOutput(quantized, indices, loss, perplexity, unused.float().mean())

    # ------------------------------------------------------------------------------- update
    @torch.no_grad()
    def _ema_update(self, latents: Tensor, indices: Tensor, counts: Tensor) -> None:
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, latents)
        sums = _all_reduce(sums)
        self.step += 1
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        used = counts > 0
        self.last_used[used] = self.step
        # A code is the direction of its running sum; a code with no mass keeps its value.
        norms = self.embed_sum.norm(dim=1, keepdim=True)
        has_mass = norms.squeeze(1) > 1e-12
        self.codebook[has_mass] = self.embed_sum[has_mass] / norms[has_mass]

    @torch.no_grad()
    def _restart_dead(self, latents: Tensor, cosine: Tensor) -> None:
        if self.restart_after <= 0:
            return
        since = self.step - torch.maximum(self.last_used, self.last_reset)
        dead = torch.nonzero(since >= self.restart_after).squeeze(1)
        if dead.numel() == 0:
            return
        candidates = self._worst_latents(latents, 1.0 - cosine, dead.numel())
        dead = dead[: candidates.shape[0]]
        mean_count = self.cluster_size.mean().clamp(min=1e-3)
        self.codebook[dead] = candidates
        self.cluster_size[dead] = mean_count
        self.embed_sum[dead] = candidates * mean_count
        self.last_reset[dead] = self.step

    def _worst_latents(self, latents: Tensor, errors: Tensor, count: int) -> Tensor:
        """The ``count`` latents of the global batch with the largest errors (sorted)."""
        local = min(count, latents.shape[0])
        top = errors.topk(local)
        values, rows = top.values, latents[top.indices]
        world = _world()
        if world > 1:
            padded_values = values.new_full((count,), -float('inf'))
            padded_rows = rows.new_zeros(count, self.dim)
            padded_values[:local], padded_rows[:local] = values, rows
            all_values = [torch.empty_like(padded_values) for _ in range(world)]
            all_rows = [torch.empty_like(padded_rows) for _ in range(world)]
            dist.all_gather(all_values, padded_values)
            dist.all_gather(all_rows, padded_rows)
            values, rows = torch.cat(all_values), torch.cat(all_rows)
        valid = torch.isfinite(values)
        values, rows = values[valid], rows[valid]
        order = values.topk(min(count, values.numel())).indices
        return rows[order]

    # --------------------------------------------------------------------------------- init
    @torch.no_grad()
    def _init_from_data(self, latents: Tensor) -> None:
        sample = latents
        if _world() > 1:  # every process initialises from the latents of process 0
            size = torch.tensor([latents.shape[0]], device=latents.device)
            dist.broadcast(size, src=0)
            sample = latents.new_zeros(int(size), self.dim)
            if dist.get_rank() == 0:
                sample.copy_(latents)
            dist.broadcast(sample, src=0)
        if sample.shape[0] == 0:
            return
        generator = torch.Generator(device='cpu').manual_seed(0)
        if sample.shape[0] >= self.num_codes:
            pick = torch.randperm(sample.shape[0], generator=generator)[: self.num_codes]
        else:
            pick = torch.randint(sample.shape[0], (self.num_codes,), generator=generator)
        codebook = sample[pick.to(sample.device)]
        if self.kmeans_init:
            for _ in range(self.kmeans_iters):
                assign = (sample @ codebook.t()).argmax(dim=1)
                sums = torch.zeros_like(codebook).index_add_(0, assign, sample)
                norms = sums.norm(dim=1, keepdim=True)
                filled = norms.squeeze(1) > 1e-12
                codebook[filled] = sums[filled] / norms[filled]
        self.codebook.copy_(F.normalize(codebook, dim=1))
        self.cluster_size.zero_()
        self.embed_sum.zero_()
        self.initialised.fill_(True)
