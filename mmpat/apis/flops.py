"""FLOPs and parameters of a segmentor with mmengine's analyzer (``mmengine.analysis``).

The count follows the analyzer's convention (fvcore's): one multiply-add is one FLOP, so a
[m, k] x [k, n] product counts m*k*n; element-wise ops (add, GELU, softmax) are not counted and
are listed as unsupported. Two counts per model:

- the **image path**: the segmentor's ``inference`` (``whole`` or ``slide`` as its
  ``test_cfg`` says, every crop counted) on preprocessed images, with the text results given
  as inputs: the class embeddings [C, D] and, for heads that encode learned prompts
  (MVP-SEG's ``MultiPromptHead``), the prompt embeddings [P, C, D]. Every feature the
  backbone and neck compute counts (:class:`ImagePath`), also those no head reads; the part
  that reaches the prediction is counted separately (:attr:`Complexity.prediction`);
- the **text pass**: what the text encoder runs once per vocabulary
  (``encode_vocabulary`` of the classes, ``encode_with_prompts`` of the head's contexts).

The analyzer traces with ``torch.jit``; mmengine has no handles for the fused attention ops
that PyTorch's ``nn.MultiheadAttention`` inference fast path and ``F.scaled_dot_product_attention``
trace to, so :data:`ATTENTION_HANDLES` adds them (otherwise a ViT's attention would not count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from torch import Tensor, nn

from .benchmarking import AnalysisModel, preprocessed_batch

COUNTER = 'mmengine.analysis.FlopAnalyzer'


def _shape(value: Any) -> list[int]:
    from mmengine.analysis.jit_handles import get_shape

    return list(get_shape(value))


def native_mha_flop_jit(inputs: list, outputs: list) -> int:
    """``aten::_native_multi_head_attention`` (``nn.MultiheadAttention`` in eval without
    grad): q/k/v projections, q k^T, attention x v and the output projection.

    Query [..., L, E], key/value [..., S, E]: ``B * (2 L E^2 + 2 S E^2 + 2 L S E)``.
    """
    query, key = _shape(inputs[0]), _shape(inputs[1])
    length, source, embed = query[-2], key[-2], query[-1]
    batch = prod(query[:-2])
    return batch * (2 * length * embed**2 + 2 * source * embed**2 + 2 * length * source * embed)


def sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """``aten::scaled_dot_product_attention``: q [..., L, E], k [..., S, E], v [..., S, Ev]
    -> ``prod(...) * L * S * (E + Ev)`` (q k^T and attention x v)."""
    query, key, value = (_shape(v) for v in inputs[:3])
    return prod(query[:-2]) * query[-2] * key[-2] * (query[-1] + value[-1])


ATTENTION_HANDLES: dict[str, Callable[[list, list], int]] = {
    'aten::_native_multi_head_attention': native_mha_flop_jit,
    'aten::scaled_dot_product_attention': sdpa_flop_jit,
}


@dataclass
class FlopCount:
    """One traced computation.

    Attributes:
        total: FLOPs (multiply-adds) of the whole computation.
        by_operator: FLOPs per counted operator kind ('linear', 'conv', 'matmul', ...).
        by_module: FLOPs per submodule name ('' is the root).
        unsupported: Ops the analyzer met but does not count, with their call counts.
    """

    total: int
    by_operator: dict[str, int]
    by_module: dict[str, int]
    unsupported: dict[str, int]


def count_flops(module: nn.Module, inputs: tuple) -> FlopCount:
    """Trace ``module(*inputs)`` without autograd and count its FLOPs (see module docstring)."""
    from mmengine.analysis import FlopAnalyzer

    analyzer = FlopAnalyzer(module, inputs).set_op_handle(**ATTENTION_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with torch.no_grad():
        total = int(analyzer.total())
    return FlopCount(
        total=total,
        by_operator={k: int(v) for k, v in analyzer.by_operator().items()},
        by_module={k: int(v) for k, v in analyzer.by_module().items()},
        unsupported=dict(analyzer.unsupported_ops()),
    )


# ------------------------------------------------------------------ the segmentor's parts
@contextmanager
def edited_features(segmentor: nn.Module, edit: Callable[[Any], None]) -> Iterator[None]:
    """Call ``edit`` on the features ``extract_feat`` gives the heads (a dict it may change in
    place, or a tuple of maps) while the block runs (whole and slide inference both go
    through ``extract_feat``)."""
    original = segmentor.extract_feat

    def extract_feat(inputs: Tensor) -> Any:
        feats = original(inputs)
        edit(feats)
        return feats

    segmentor.extract_feat = extract_feat
    try:
        yield
    finally:
        del segmentor.extract_feat


def feature_tensors(feats: Any) -> list[Tensor]:
    """The tensors in a (nested) dict / list / tuple of features."""
    if torch.is_tensor(feats):
        return [feats]
    if isinstance(feats, dict):
        feats = list(feats.values())
    if isinstance(feats, (list, tuple)):
        return [t for item in feats for t in feature_tensors(item)]
    return []


@dataclass
class TextInputs:
    """The text results the image path reads, captured from one inference.

    Attributes:
        names: What each tensor replaces: 'class_embeddings' and/or 'prompt_embeddings'.
        tensors: Class embeddings [C_text, D] (width 0 when no head uses them), prompt
            embeddings [P, C, D].
        contexts: The learned context vectors the heads encoded (prompt heads only).
    """

    names: tuple[str, ...] = ()
    tensors: tuple[Tensor, ...] = ()
    contexts: list[Tensor] = field(default_factory=list)


def capture_text_inputs(segmentor: nn.Module, images: Tensor, metas: list[dict]) -> TextInputs:
    """Run one inference and keep the text results it used (none for closed vocabularies)."""
    if not hasattr(segmentor, 'class_embeddings'):
        return TextInputs()
    prompts: list[tuple[list[Tensor], Tensor]] = []

    def record(feats: Any) -> None:
        encode = feats.get('encode_prompts') if isinstance(feats, dict) else None
        if encode is None:
            return

        def recording(contexts):
            encoded = encode(contexts)
            contexts = [contexts] if torch.is_tensor(contexts) else list(contexts)
            prompts.append((contexts, encoded))
            return encoded

        feats['encode_prompts'] = recording

    with torch.no_grad(), edited_features(segmentor, record):
        segmentor.inference(images, metas)
    names, tensors = ['class_embeddings'], [segmentor.class_embeddings]
    contexts: list[Tensor] = []
    if prompts:
        contexts, encoded = prompts[-1]
        names.append('prompt_embeddings')
        tensors.append(encoded)
    return TextInputs(tuple(names), tuple(tensors), list(contexts))


class ImagePath(nn.Module):
    """The segmentor's ``inference`` with its text results as inputs (see module docstring).

    ``torch.jit.trace`` drops the ops whose results reach no output, so by default the
    features the backbone and neck compute are returned too and counted, as executed, even
    when the head reads only some of them (e.g. ``CLIPPyramid``'s full last block and class
    token under a head that reads only ``'dense'``); ``keep_features=False`` counts only what
    reaches the prediction.

    Args:
        segmentor: An mmseg segmentor (``OpenVocabEncoderDecoder`` or a closed one).
        metas: Image metas of the batch (``img_shape``, ``ori_shape``).
        text_names: What the extra ``forward`` inputs replace (:attr:`TextInputs.names`).
        keep_features: Whether ``forward`` also returns the features (see above).
    """

    def __init__(
        self,
        segmentor: nn.Module,
        metas: list[dict],
        text_names: Sequence[str] = (),
        *,
        keep_features: bool = True,
    ) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.metas = metas
        self.text_names = tuple(text_names)
        self.keep_features = keep_features

    def forward(self, images: Tensor, *texts: Tensor) -> Tensor | tuple[Tensor, ...]:
        """Images [B, 3, H, W] (+ text tensors) -> segmentation logits [B, C, H, W] (then,
        with ``keep_features``, every feature tensor of every crop)."""
        given = dict(zip(self.text_names, texts))
        features: list[Tensor] = []

        def replace(feats: Any) -> None:
            if isinstance(feats, dict) and 'class_embeddings' in given:
                feats['class_embeddings'] = given['class_embeddings']
            if isinstance(feats, dict) and 'prompt_embeddings' in given:
                feats['encode_prompts'] = lambda contexts: given['prompt_embeddings']
            if self.keep_features:
                features.extend(feature_tensors(feats))

        with edited_features(self.segmentor, replace):
            logits = self.segmentor.inference(images, self.metas)
        return (logits, *features) if features else logits


class TextPass(nn.Module):
    """The text encoder's pass over the current vocabulary, as one traceable call.

    Args:
        segmentor: An ``OpenVocabEncoderDecoder`` with a vocabulary.
        contexts: Learned prompt contexts its head encodes (:attr:`TextInputs.contexts`).
    """

    def __init__(self, segmentor: nn.Module, contexts: Sequence[Tensor] = ()) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.contexts = list(contexts)

    @property
    def encodes_classes(self) -> bool:
        """Whether a head reads class embeddings (else they are an empty [C, 0])."""
        return self.segmentor.class_embeddings.shape[-1] > 0

    def forward(self, anchor: Tensor) -> tuple[Tensor, ...]:
        """``anchor`` is unused (the analyzer traces a call with tensor inputs)."""
        segmentor, outputs = self.segmentor, []
        encoder = segmentor.text_encoder
        if self.encodes_classes:
            names, templates = segmentor.text_class_names, segmentor.templates
            outputs.append(encoder.encode_vocabulary(names, templates=templates))
        if self.contexts:
            contexts = torch.cat(self.contexts)
            outputs.append(encoder.encode_with_prompts(contexts, segmentor.class_names))
        return tuple(outputs)


# ------------------------------------------------------------------------------ summary
@dataclass
class Complexity:
    """FLOPs and parameters of a segmentor (see the module docstring).

    Attributes:
        image: The image path's count (every feature the backbone and neck compute).
        prediction: The image path's ops that reach the prediction (``image`` less the
            features no head reads).
        text: The text pass's count (None: closed vocabulary).
        params_total: Parameters of the segmentor.
        params_trainable: Parameters with ``requires_grad`` (after the model's own freezing).
        parts: (name, image-path FLOPs inside the part's calls, params, trainable) per
            top-level part, then the FLOPs outside any part's call (head maths, resizing).
    """

    image: FlopCount
    prediction: FlopCount
    text: FlopCount | None
    params_total: int
    params_trainable: int
    parts: list[tuple[str, int, int, int]]

    @property
    def unsupported(self) -> dict[str, int]:
        merged = dict(self.image.unsupported)
        for op, calls in (self.text.unsupported if self.text else {}).items():
            merged[op] = merged.get(op, 0) + calls
        return dict(sorted(merged.items()))


def image_path(
    analysis: AnalysisModel, shape: Sequence[int]
) -> tuple[ImagePath, tuple[Tensor, ...], TextInputs]:
    """The image path of a built model on one random ``shape`` image, ready to call or count.

    Returns:
        tuple: The :class:`ImagePath` module, its inputs (preprocessed images [1, 3, H, W],
        then the text tensors) and the captured :class:`TextInputs`.
    """
    data = preprocessed_batch(analysis, shape)
    images, metas = data['inputs'], [s.metainfo for s in data['data_samples']]
    text = capture_text_inputs(analysis.model, images, metas)
    return ImagePath(analysis.model, metas, text.names), (images, *text.tensors), text


def _params(module: nn.Module) -> tuple[int, int]:
    params = list(module.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def model_complexity(analysis: AnalysisModel, shape: Sequence[int]) -> Complexity:
    """FLOPs (image path and text pass) and parameters of a built analysis model.

    Args:
        analysis: From :func:`~mmpat.apis.benchmarking.build_analysis_model`.
        shape: (H, W) of the input image.

    Returns:
        Complexity: Counts, parameters and a per-part breakdown.
    """
    segmentor = analysis.model
    path, inputs, text = image_path(analysis, shape)
    image = count_flops(path, inputs)
    path.keep_features = False
    prediction = count_flops(path, inputs)
    text_count = None
    if text.names:
        text_pass = TextPass(segmentor, text.contexts)
        if text_pass.encodes_classes or text.contexts:
            text_count = count_flops(text_pass, (torch.zeros(1, device=inputs[0].device),))
    parts = []
    for name, child in segmentor.named_children():
        total, trainable = _params(child)
        flops = image.by_module.get(f'segmentor.{name}', 0)
        if total or flops:
            parts.append((name, flops, total, trainable))
    outside = image.total - sum(part[1] for part in parts)
    parts.append(('(outside the parts: head maths, resizing)', outside, 0, 0))
    total, trainable = _params(segmentor)
    return Complexity(image, prediction, text_count, total, trainable, parts)
