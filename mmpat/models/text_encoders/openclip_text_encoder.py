"""``OpenCLIPTextEncoder``: open_clip's text tower for vocabularies and learnable prompts.

- ``encode_vocabulary(names)`` -> [C, D], L2-normalised. A class may have synonyms
  (``'dog, puppy'`` or ``['dog', 'puppy']``). Our choice of averaging: per synonym, the mean of
  its normalised template embeddings, renormalised; per class, the mean of its normalised
  synonym embeddings, renormalised.
- Speed: the text transformer is causal and pools the end-of-text (EOT) token, so tokens
  after the EOT never reach the output. Prompts are sorted by EOT position and each batch runs
  only up to its longest EOT (same result as open_clip's ``encode_text`` on all 77 tokens).
  Memory is bounded by the batch and the [C, D] accumulators (not by C x templates).
- ``cache_dir``: embeddings cached on disk, keyed by (text weights fingerprint, templates,
  classes); atomic writes; an unreadable cache file is recomputed with a warning.
- ``encode_with_prompts(context, names)`` -> [P, C, D]: CoOp-style learnable context vectors
  placed after the start token and before the class-name tokens (MVP-SEG), differentiable with
  respect to the context.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from mmpat.utils.vocabulary import synonym_tuples

from ..clip.presets import get_clip_preset
from ..clip.weights import load_clip_state_dict, load_clip_tower
from .embedding_cache import EmbeddingCache, cache_key, tensors_fingerprint
from .prefix_shared import encode_prefix_shared, prefix_shared_supported, project_pooled
from .templates import get_templates

_TOKENIZER = None


def clip_tokenizer():
    """open_clip's BPE tokenizer (shipped inside the package; built once)."""
    global _TOKENIZER
    if _TOKENIZER is None:
        from open_clip.tokenizer import SimpleTokenizer

        _TOKENIZER = SimpleTokenizer()
    return _TOKENIZER


@MODELS.register_module()
class OpenCLIPTextEncoder(BaseModule):
    """open_clip text tower with template ensembles, synonyms, caching and prompt learning.

    Args:
        preset (str | dict): CLIP preset name or dict.
        pretrained (str, optional): Local CLIP weights file (see ``load_clip_state_dict``).
        templates (str | Sequence[str]): Template set name ('simple', 'vild', 'imagenet',
            'maskclip') or a list of templates with one ``{}``; default 'vild'.
        cache_dir (str, optional): Folder of the on-disk embedding cache (None: no cache).
        batch_size (int): Prompts per forward pass (bounds memory).
        frozen (bool): Freeze the text tower (default True); a frozen encoder encodes
            vocabularies without autograd.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(
        self,
        *,
        preset: str | dict[str, Any] = 'ViT-B-16',
        pretrained: str | None = None,
        templates: str | Sequence[str] = 'vild',
        cache_dir: str | None = None,
        batch_size: int = 256,
        frozen: bool = True,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        from open_clip.model import _build_text_tower

        cfg = get_clip_preset(preset)
        self.preset = preset
        self.text = _build_text_tower(
            cfg['embed_dim'], cfg['text_cfg'], cfg.get('quick_gelu', False)
        )
        if self.text.cls_emb is not None or self.text.pool_type != 'argmax':
            raise ValueError('OpenCLIPTextEncoder supports CLIP text towers (argmax EOT pooling)')
        self.embed_dim = int(cfg['embed_dim'])
        self.width = int(self.text.width)
        self.context_length = int(self.text.context_length)
        self.templates = get_templates(templates)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.batch_size = batch_size
        self.cache = EmbeddingCache(cache_dir) if cache_dir else None
        self.frozen = frozen
        if pretrained is not None:
            state = load_clip_state_dict(pretrained, cfg)
            skip = ('visual.', 'logit_scale', 'logit_bias')
            load_clip_tower(self.text, state, prefix='', path=pretrained, skip=skip)
        for param in self.text.parameters():
            param.requires_grad = not frozen
        self._fingerprint: tuple[tuple, str] | None = None
        self._prompt_token_memo: dict[tuple, tuple[Tensor, Tensor, Tensor]] = {}

    # ---------------------------------------------------------------------------- tokens
    def _name_tokens(self, text: str, room: int, label: str) -> list[int]:
        ids = clip_tokenizer().encode(text)
        if len(ids) > room:
            warnings.warn(
                f'class name {label!r} is too long for the text context of '
                f'{self.context_length} tokens ({len(ids)} tokens > {room}); truncated',
                stacklevel=3,
            )
            ids = ids[:room]
        return ids

    def tokenize(self, texts: str | Sequence[str]) -> Tensor:
        """Tokenize texts like open_clip (start, BPE ids, end, zero padding).

        Args:
            texts: A text or texts.

        Returns:
            LongTensor: [N, context_length]; over-long texts are truncated with a warning.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        tok = clip_tokenizer()
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = self._name_tokens(text, self.context_length - 2, text)
            ids = [tok.sot_token_id, *ids, tok.eot_token_id]
            out[row, : len(ids)] = torch.tensor(ids)
        return out

    # --------------------------------------------------------------------------- encoding
    def phrase_embeddings(self, phrase: str) -> Tensor:
        """Token embeddings of a phrase, without start and end tokens (CoOp's context init).

        Args:
            phrase: Words such as ``'a photo of a'``.

        Returns:
            Tensor: [n_tokens, W], detached copies of the token embedding rows.

        Raises:
            ValueError: An empty phrase.
        """
        ids = clip_tokenizer().encode(phrase)
        if not ids:
            raise ValueError(f'context phrase {phrase!r} has no tokens')
        weight = self.text.token_embedding.weight
        return weight[torch.tensor(ids, device=weight.device)].detach().clone()

    def _run(self, embeddings: Tensor, eot: Tensor) -> Tensor:
        """Text transformer over token embeddings [N, L, W] (L covers every EOT) -> [N, D]."""
        length = embeddings.shape[1]
        text = self.text
        x = embeddings + text.positional_embedding[:length].to(embeddings.dtype)
        x = text.transformer(x, attn_mask=text.attn_mask[:length, :length])
        return project_pooled(text, x[torch.arange(x.shape[0], device=x.device), eot])

    def encode_tokens(self, tokens: Tensor) -> Tensor:
        """Like open_clip's ``encode_text`` (not normalised), run only up to the last EOT.

        Args:
            tokens: LongTensor [N, context_length] from :meth:`tokenize`.

        Returns:
            Tensor: [N, D].
        """
        device = self.text.positional_embedding.device
        tokens = tokens.to(device)
        eot = tokens.argmax(dim=-1)
        length = int(eot.max()) + 1
        return self._run(self.text.token_embedding(tokens[:, :length]), eot)

    def _weights_fingerprint(self) -> str:
        tensors = dict(self.text.state_dict())
        tensors.pop('attn_mask', None)
        version = tuple((t.data_ptr(), t._version) for t in tensors.values())
        if self._fingerprint is None or self._fingerprint[0] != version:
            self._fingerprint = (version, tensors_fingerprint(tensors))
        return self._fingerprint[1]

    def encode_vocabulary(
        self,
        class_names: Sequence[str | Sequence[str]],
        templates: str | Sequence[str] | None = None,
    ) -> Tensor:
        """Encode a vocabulary with a template ensemble and synonyms.

        Args:
            class_names: C classes; each a name, ``'name, synonym'`` or a list of synonyms (or
                one ``'cat; dog, puppy'`` string; see :func:`mmpat.utils.vocabulary.
                synonym_tuples`).
            templates: Template set name or list (default: the encoder's ``templates``).

        Returns:
            Tensor: [C, D], L2-normalised (on the encoder's device).

        Raises:
            ValueError: Empty vocabulary or class, or two classes with the same first name
                (case-insensitive; named).
            TypeError: An entry that is neither a string nor a list of strings.
        """
        classes = synonym_tuples(class_names)
        templates = self.templates if templates is None else get_templates(templates)
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        device = self.text.positional_embedding.device
        key = None
        if self.cache is not None and not needs_grad:
            key = cache_key(self._weights_fingerprint(), templates, classes)
            cached = self.cache.load(key, templates, classes)
            if cached is not None:
                return cached.to(device)
        with torch.set_grad_enabled(needs_grad):
            embeddings = self._encode_classes(classes, templates)
        if key is not None:
            self.cache.save(key, embeddings, templates, classes)
        return embeddings

    def _encode_classes(self, classes: list[tuple[str, ...]], templates: tuple[str, ...]) -> Tensor:
        tok = clip_tokenizer()
        room = self.context_length - 2
        synonym_class = [c for c, synonyms in enumerate(classes) for _ in synonyms]
        prompts: list[list[int]] = []
        owners: list[int] = []  # the synonym index of each prompt
        too_long: dict[str, int] = {}
        for s, name in enumerate(name for synonyms in classes for name in synonyms):
            for template in templates:
                ids = tok.encode(template.format(name))
                if len(ids) > room:
                    too_long[name] = max(too_long.get(name, 0), len(ids))
                    ids = ids[:room]
                prompts.append([tok.sot_token_id, *ids, tok.eot_token_id])
                owners.append(s)
        if too_long:
            warnings.warn(
                f'class names too long for the text context of {self.context_length} tokens, '
                f'prompts truncated: {sorted(too_long)[:10]}',
                stacklevel=3,
            )
        device = self.text.positional_embedding.device
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        sums = None
        batches = range(0, len(order), self.batch_size)
        progress = None
        if len(batches) > 8:
            from tqdm import tqdm

            progress = tqdm(total=len(order), desc='encoding vocabulary', unit='prompt')
        for start in batches:
            index = order[start : start + self.batch_size]
            length = len(prompts[index[-1]])  # sorted: the longest of the batch
            tokens = torch.zeros(len(index), length, dtype=torch.long)
            for row, i in enumerate(index):
                tokens[row, : len(prompts[i])] = torch.tensor(prompts[i])
            tokens = tokens.to(device)
            out = F.normalize(self.encode_tokens(tokens), dim=-1)
            if sums is None:
                sums = out.new_zeros(len(synonym_class), out.shape[-1])
            sums = sums.index_add(0, torch.tensor([owners[i] for i in index], device=device), out)
            if progress is not None:
                progress.update(len(index))
        if progress is not None:
            progress.close()
        synonyms = F.normalize(sums, dim=-1)
        per_class = synonyms.new_zeros(len(classes), synonyms.shape[-1])
        per_class = per_class.index_add(0, torch.tensor(synonym_class, device=device), synonyms)
        return F.normalize(per_class, dim=-1)

    def forward(self, class_names: Sequence[str | Sequence[str]]) -> Tensor:
        """Same as :meth:`encode_vocabulary` with the default templates."""
        return self.encode_vocabulary(class_names)

    def prompt_tokens(
        self, class_names: Sequence[str | Sequence[str]], n_ctx: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Token rows ``[SOS] <n_ctx placeholders> name. [EOS]`` of every synonym (memoised).

        Tokenised once per (vocabulary, n_ctx): a prompt-learning step reuses the rows.

        Args:
            class_names: C classes (entries may hold synonyms).
            n_ctx: Number of context vectors before the name.

        Returns:
            tuple: tokens [S, L] (L = the longest row: later tokens never reach the EOT),
            EOT positions [S] and the class of each synonym row [S] (LongTensors, CPU).

        Raises:
            ValueError: ``n_ctx`` < 1, or a class name that does not fit in the text context
                after ``n_ctx`` context vectors (the class is named).
        """
        classes = synonym_tuples(class_names)
        key = (tuple(classes), int(n_ctx))
        memo = self._prompt_token_memo
        if key in memo:
            return memo[key]
        if n_ctx < 1:
            raise ValueError(f'n_ctx must be >= 1, got {n_ctx}')
        tok = clip_tokenizer()
        room = self.context_length - 2 - n_ctx
        rows, owner = [], []
        for index, synonyms in enumerate(classes):
            for name in synonyms:
                ids = tok.encode(name + '.')
                if len(ids) > room:
                    raise ValueError(
                        f'class name {name!r} needs {len(ids)} tokens but the text context of '
                        f'{self.context_length} tokens has room for {max(room, 0)} after '
                        f'n_ctx={n_ctx} context vectors: shorten the name or lower n_ctx'
                    )
                rows.append([tok.sot_token_id, *([0] * n_ctx), *ids, tok.eot_token_id])
                owner.append(index)
        tokens = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)
        for row, ids in enumerate(rows):
            tokens[row, : len(ids)] = torch.tensor(ids)
        if len(memo) > 8:  # a few vocabularies (train / val / a demo) are enough
            memo.pop(next(iter(memo)))
        memo[key] = (tokens, tokens.argmax(dim=-1), torch.tensor(owner))
        return memo[key]

    def encode_with_prompts(
        self, context: Tensor, class_names: Sequence[str | Sequence[str]]
    ) -> Tensor:
        """Encode classes with learnable context vectors (CoOp): ``[SOS] ctx_1..ctx_n name. [EOS]``.

        The text transformer is causal, so the start token and the context vectors have the
        same hidden states in every class row of a prompt: they are run once per prompt
        (keeping each layer's keys/values) and only the class-name tokens ``name. [EOS]`` of
        every (prompt, class) row are run on top of them (see :mod:`.prefix_shared`; same
        result as the full pass up to float rounding). Rows are sorted by length and run in
        chunks of about ``batch_size`` sequences, each only up to its longest EOT. Towers with
        non-standard blocks use the full pass (:meth:`_encode_with_prompts_full`).

        Args:
            context: [P, n_ctx, W] context vectors of P prompts (W = text width).
            class_names: C classes (synonyms averaged as in :meth:`encode_vocabulary`).

        Returns:
            Tensor: [P, C, D], L2-normalised; differentiable with respect to ``context``.

        Raises:
            ValueError: ``context`` of the wrong shape, a class name too long for the context,
                or a bad vocabulary.
        """
        if not prefix_shared_supported(self.text):
            return self._encode_with_prompts_full(context, class_names)
        self._check_context(context)
        num_prompts, n_ctx, _ = context.shape
        tokens, eot, owner = self.prompt_tokens(class_names, n_ctx)
        device = self.text.positional_embedding.device
        sos = self.text.token_embedding(tokens[:1, :1].to(device))  # [1, 1, W]
        context = context.to(device=device, dtype=sos.dtype)
        prefix = torch.cat([sos.expand(num_prompts, -1, -1), context], dim=1)
        rows_per_chunk = max(1, self.batch_size // num_prompts)
        out = encode_prefix_shared(
            self.text, prefix, tokens[:, 1 + n_ctx :], eot - (1 + n_ctx), rows_per_chunk
        )
        return self._average_synonyms(F.normalize(out, dim=-1), owner.to(device))

    def _check_context(self, context: Tensor) -> None:
        if context.dim() != 3 or context.shape[-1] != self.width:
            raise ValueError(
                f'context must be [P, n_ctx, {self.width}] (text width), got {tuple(context.shape)}'
            )
        n_ctx = context.shape[1]
        if self.context_length - 2 - n_ctx < 1:
            raise ValueError(
                f'n_ctx={n_ctx} leaves no room in the {self.context_length}-token context'
            )

    @staticmethod
    def _average_synonyms(per_synonym: Tensor, owner: Tensor) -> Tensor:
        """[P, S, D] normalised synonym embeddings -> [P, C, D] normalised class embeddings."""
        num_classes = int(owner.max()) + 1
        per_class = per_synonym.new_zeros(per_synonym.shape[0], num_classes, per_synonym.shape[-1])
        per_class = per_class.index_add(1, owner, per_synonym)
        return F.normalize(per_class, dim=-1)

    def _encode_with_prompts_full(
        self, context: Tensor, class_names: Sequence[str | Sequence[str]]
    ) -> Tensor:
        """:meth:`encode_with_prompts` with every row run in full (the reference path).

        All P prompts and C classes go through the text transformer in batched passes (split
        by ``batch_size``), each run only up to the longest EOT.
        """
        self._check_context(context)
        num_prompts, n_ctx, _ = context.shape
        tokens, eot, owner = self.prompt_tokens(class_names, n_ctx)
        device = self.text.positional_embedding.device
        tokens, eot, owner = tokens.to(device), eot.to(device), owner.to(device)
        embedded = self.text.token_embedding(tokens)  # [S, L, W]
        num_syn = tokens.shape[0]
        context = context.to(embedded.dtype)
        outs = []
        rows_per_batch = max(1, self.batch_size // num_syn)
        for start in range(0, num_prompts, rows_per_batch):
            ctx = context[start : start + rows_per_batch]  # [p, n_ctx, W]
            p = ctx.shape[0]
            x = torch.cat(
                [
                    embedded[None, :, :1].expand(p, -1, -1, -1),
                    ctx[:, None].expand(-1, num_syn, -1, -1),
                    embedded[None, :, 1 + n_ctx :].expand(p, -1, -1, -1),
                ],
                dim=2,
            ).flatten(0, 1)
            out = self._run(x, eot.repeat(p))
            outs.append(F.normalize(out, dim=-1).view(p, num_syn, -1))
        return self._average_synonyms(torch.cat(outs), owner)  # [P, S, D] -> [P, C, D]
