"""On-disk cache of vocabulary embeddings, keyed by (weights fingerprint, templates, names)."""

from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import tempfile
import warnings

import torch

from mmpat.compat import load_checkpoint_file


def tensors_fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """A hash of names, shapes, dtypes and exact bytes of tensors (order-independent)."""
    digest = hashlib.blake2b(digest_size=20)
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        digest.update(f'{name}:{tuple(value.shape)}:{value.dtype};'.encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b'')
    return digest.hexdigest()


def cache_key(fingerprint: str, templates: tuple[str, ...], classes: list[tuple[str, ...]]) -> str:
    """The cache file key of one vocabulary encoding."""
    payload = json.dumps([fingerprint, list(templates), [list(c) for c in classes]])
    return hashlib.sha256(payload.encode()).hexdigest()


class EmbeddingCache:
    """A folder of ``text_<key>.pt`` files, each ``{'embeddings', 'templates', 'classes'}``.

    Args:
        cache_dir: The folder (created on the first write).
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = osp.expanduser(cache_dir)

    def path(self, key: str) -> str:
        return osp.join(self.cache_dir, f'text_{key}.pt')

    def load(
        self, key: str, templates: tuple[str, ...], classes: list[tuple[str, ...]]
    ) -> torch.Tensor | None:
        """The cached embeddings, or None (absent; corrupt or mismatched: with a warning)."""
        path = self.path(key)
        if not osp.isfile(path):
            return None
        try:
            entry = load_checkpoint_file(path, map_location='cpu')
            embeddings = entry['embeddings']
            ok = (
                entry['templates'] == list(templates)
                and entry['classes'] == [list(c) for c in classes]
                and torch.is_tensor(embeddings)
                and embeddings.shape[0] == len(classes)
            )
        except Exception as error:  # any unreadable file is recomputed
            warnings.warn(
                f'text embedding cache {path!r} is unreadable ({type(error).__name__}: '
                f'{error}); recomputing it',
                stacklevel=3,
            )
            return None
        if not ok:
            warnings.warn(
                f'text embedding cache {path!r} does not hold this vocabulary; recomputing it',
                stacklevel=3,
            )
            return None
        return embeddings

    def save(
        self,
        key: str,
        embeddings: torch.Tensor,
        templates: tuple[str, ...],
        classes: list[tuple[str, ...]],
    ) -> str:
        """Write an entry atomically (temporary file in the same folder, then rename)."""
        os.makedirs(self.cache_dir, exist_ok=True)
        path = self.path(key)
        entry = dict(
            embeddings=embeddings.detach().cpu().contiguous(),
            templates=list(templates),
            classes=[list(c) for c in classes],
        )
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix='.text_', suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
                torch.save(entry, f)
            os.replace(tmp, path)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise
        return path
