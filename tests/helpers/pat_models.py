"""``--cfg-options`` that shrink the scenes PAT config to the random 'ViT-test' CLIP.

ViT-test: width 32, embed 32, 2 blocks, patch 8, so a 64 px image gives an 8 x 8 grid; the
rescales (4, 2, 1, 0.5) make token maps of 32, 16, 8 and 4.
"""

TINY_PAT_OPTIONS = {
    'model.backbone.preset': 'ViT-test',
    'model.backbone.pretrained': None,
    'model.backbone.out_indices': (1, 1, 2, 2),
    'model.text_encoder.preset': 'ViT-test',
    'model.text_encoder.pretrained': None,
    'model.neck.in_channels': [32] * 4,
    # A ViT's one stride-8 map, rescaled to strides 2-16 (the scenes config's ResNet has no
    # rescaling: its stages already are a pyramid).
    'model.neck.rescales': (4, 2, 1, 0.5),
    'model.decode_head.rescales': (4, 2, 1, 0.5),
    'model.neck.codebook_sizes': [16, 8, 8, 4],
    'model.neck.code_dim': 8,
    'model.neck.decoder.channels': 16,
    'model.decode_head.pyramid_channels': [32] * 4,
    'model.decode_head.embed_dims': 32,
    'model.decode_head.channels': 16,
    'model.decode_head.token_channels': 16,
    'model.auxiliary_head.in_channels': 16,
    'model.auxiliary_head.channels': 16,
}
