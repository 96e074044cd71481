"""Experiment: scenes with low-contrast backgrounds (monkeypatched generator; lab use only)."""

import sys

import mmpat.datasets.scenes.generator as g

orig = g.draw_background
CONTRAST = float(sys.argv[2])


def draw_background(rng, size):
    img = orig(rng, size)
    mean = img.reshape(-1, 3).mean(0)
    return mean + CONTRAST * (img - mean)


g.draw_background = draw_background
g.generate_scenes(sys.argv[1], workers=2, num_train=0, progress=False)
