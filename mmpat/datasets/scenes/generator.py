"""Generated open-vocabulary scenes: coloured shapes on textured backgrounds.

The offline open-vocabulary benchmark of mmpat (runs on a CPU in minutes): classes are
compositions ``'<colour> <shape>'`` (6 colours x 5 shapes = 30) plus ``'background'``. One fifth
of the compositions (6) are held out as *unseen*; every colour word and every shape word still
occurs in seen classes, so a text encoder that learned the words can name the unseen
compositions.

Splits (all drawn by the same renderer, each image from its own seeded random stream, so a split
does not change when another split's size changes):

* ``pretrain``: images of all 30 classes with several captions each. The CLIP pretraining uses
  only the captions; the label maps (since generator version 3) serve the transductive
  zero-shot setting (MVP-SEG+: training images with unseen objects whose pixels are
  unlabelled, see ``ScenesDataset(unlabelled_unseen=True)``).
* ``train``: label maps of seen classes only (images with unseen objects are left out, i.e.
  objects are drawn from the seen classes).
* ``val``: all classes; the dominant object of every fifth image is unseen, the others seen.

Layout written under ``out_dir``::

    img_dir/{pretrain,train,val}/000000.png   RGB images (size x size)
    ann_dir/{pretrain,train,val}/000000.png   uint8 label maps, 0 = background
    captions/{pretrain,train,val}.jsonl       {"image": "img_dir/<split>/000000.png",
                                               "captions": [...]}
    annotations/{pretrain,train,val}.jsonl    objects per image (class, centre, radius,
                                               rotation, visible pixels) and the dominant class
    meta.json                                 classes, palette, seen, unseen, generator
                                               version and arguments (written last)

Our choices (arguments of :func:`generate_scenes` and of the CLI): size 96 px, 8000 pretrain,
2000 train and 300 val images, 1 to 3 objects (probabilities 0.5/0.3/0.2), object radius 9% to
24% of the image side, rotation within +-30 degrees, every object keeps at least 40% of its area
visible, background saturation 0.15-0.7 and value 0.25-0.8 (so backgrounds may share an
object's hue, but object colours stay recognisable).

Version 3 added ``ann_dir/pretrain``; every other file is byte-identical to version 2, and
:func:`generate_scenes` upgrades a complete version-2 folder in place (it writes only the
pretrain label maps).
"""

from __future__ import annotations

import io
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

GENERATOR_VERSION = '3'  # bump whenever the written files change
# A complete folder of this version is upgraded in place (it lacks only ann_dir/pretrain).
_UPGRADABLE_VERSION = '2'

COLOURS: dict[str, tuple[int, int, int]] = {
    'red': (215, 35, 35),
    'green': (40, 175, 50),
    'blue': (35, 70, 225),
    'yellow': (235, 215, 40),
    'purple': (145, 50, 190),
    'white': (245, 245, 245),
}
SHAPES: tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'cross')
BACKGROUND = 'background'
SPLITS: tuple[str, ...] = ('pretrain', 'train', 'val')
_SPLIT_CODES = {'pretrain': 0, 'train': 1, 'val': 2}
_NUM_WORDS = {1: 'one', 2: 'two', 3: 'three'}

DEFAULT_NUM_PRETRAIN = 8000
DEFAULT_NUM_TRAIN = 2000
DEFAULT_NUM_VAL = 300


class ScenesExistError(FileExistsError):
    """The output folder holds other data (different arguments, or not a scenes folder)."""


@dataclass(frozen=True)
class SceneObject:
    """One drawn object.

    Attributes:
        label: Class index (1-based; 0 is background).
        colour: Colour word.
        shape: Shape word.
        cx: Centre x in pixels.
        cy: Centre y in pixels.
        radius: Radius in pixels (circumradius of the shape's outline).
        angle: Rotation in degrees.
    """

    label: int
    colour: str
    shape: str
    cx: float
    cy: float
    radius: float
    angle: float

    @property
    def name(self) -> str:
        return f'{self.colour} {self.shape}'


def class_names() -> list[str]:
    """All class names: ``['background', 'red circle', 'red square', ...]`` (colour-major)."""
    return [BACKGROUND] + [f'{c} {s}' for c in COLOURS for s in SHAPES]


def palette() -> list[list[int]]:
    """One RGB colour per class for visualisation (background black, objects by hue/shape)."""
    colours = [[0, 0, 0]]
    for rgb in COLOURS.values():
        for k in range(len(SHAPES)):
            shade = 0.55 + 0.45 * k / (len(SHAPES) - 1)
            colours.append([int(round(v * shade)) for v in rgb])
    return colours


def unseen_classes(seed: int) -> list[str]:
    """The held-out compositions: one per colour, shapes spread evenly (seeded).

    Colour ``i`` (in a seeded order) loses shape ``perm[i % 5]``; with 6 colours and 5 shapes
    every colour keeps 4 seen shapes and every shape keeps at least 4 seen colours.
    """
    rng = np.random.default_rng([seed, 99])
    colours = list(COLOURS)
    colour_order = rng.permutation(len(colours))
    shape_order = rng.permutation(len(SHAPES))
    held = {(colours[c], SHAPES[shape_order[i % len(SHAPES)]]) for i, c in enumerate(colour_order)}
    return [name for name in class_names()[1:] if tuple(name.split(' ')) in held]


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx) float32 pixel-centre coordinates of a (size, size) image (read-only)."""
    coords = np.arange(size, dtype=np.float32) + 0.5
    yy, xx = np.meshgrid(coords, coords, indexing='ij')
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def _local_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of a shape in local coordinates (units of the radius, v downwards)."""
    if shape == 'circle':
        return u * u + v * v <= 1.0
    if shape == 'square':
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if shape == 'triangle':
        # Equilateral, apex up, circumradius 1.1 (inradius 0.55); edges' outward normals point
        # down, up-left and up-right.
        inside = np.ones(u.shape, dtype=bool)
        for normal in (90.0, 210.0, 330.0):
            a = np.deg2rad(normal)
            inside &= u * np.cos(a) + v * np.sin(a) <= 0.55
        return inside
    if shape == 'star':
        # Five points: the outline's radius falls linearly from 1.1 (tips) to 0.45 (notches).
        rho = np.hypot(u, v)
        phi = np.mod(np.arctan2(v, u) + np.pi / 2, 2 * np.pi / 5) / (2 * np.pi / 5)
        tri = np.abs(phi - 0.5) * 2  # 1 at the tips, 0 between them
        return rho <= 0.45 + 0.65 * tri
    if shape == 'cross':
        arm, half = 0.32, 0.95
        au, av = np.abs(u), np.abs(v)
        return ((au <= arm) & (av <= half)) | ((av <= arm) & (au <= half))
    raise ValueError(f'unknown shape {shape!r}; known shapes: {SHAPES}')


def shape_mask(obj: SceneObject, size: int) -> np.ndarray:
    """Boolean (size, size) mask of one object (pixel centres inside the outline).

    Every shape lies within 1.15 radii of its centre, so only that box is tested.
    """
    mask = np.zeros((size, size), dtype=bool)
    reach = 1.15 * obj.radius
    y0, y1 = max(int(obj.cy - reach), 0), min(int(np.ceil(obj.cy + reach)) + 1, size)
    x0, x1 = max(int(obj.cx - reach), 0), min(int(np.ceil(obj.cx + reach)) + 1, size)
    if y0 >= y1 or x0 >= x1:
        return mask
    yy, xx = _pixel_centres(size)
    dx, dy = xx[y0:y1, x0:x1] - obj.cx, yy[y0:y1, x0:x1] - obj.cy
    theta = np.deg2rad(obj.angle)
    u = (np.cos(theta) * dx + np.sin(theta) * dy) / obj.radius
    v = (-np.sin(theta) * dx + np.cos(theta) * dy) / obj.radius
    mask[y0:y1, x0:x1] = _local_mask(obj.shape, u, v)
    return mask


def _random_background_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour (float, 0-255) of any hue, moderate saturation and value."""
    h = rng.uniform(0, 1)
    s = rng.uniform(0.15, 0.7)
    v = rng.uniform(0.25, 0.8)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float32) * np.float32(255)


def draw_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Textured background: smooth colour noise, stripes or a checkerboard, plus pixel noise.

    Returns:
        np.ndarray: float32 (size, size, 3) in 0-255 (may overshoot; clipped later).
    """
    kind = rng.integers(3)
    c1, c2 = _random_background_colour(rng), _random_background_colour(rng)
    if kind == 0:  # smooth noise: a coarse grid of random colours, bilinearly upsampled
        cells = int(rng.integers(3, 9))
        weights = rng.uniform(0, 1, size=(cells, cells)).astype(np.float32)
        up = np.asarray(
            Image.fromarray(weights, mode='F').resize((size, size), Image.Resampling.BILINEAR)
        )[..., None]
        img = c2 + (c1 - c2) * up
    else:
        yy, xx = _pixel_centres(size)
        a = rng.uniform(0, np.pi)
        s = np.cos(a) * xx + np.sin(a) * yy
        t = -np.sin(a) * xx + np.cos(a) * yy
        period = rng.uniform(0.06, 0.25) * size
        if kind == 1:  # stripes, soft or hard
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * s / period + rng.uniform(0, 2 * np.pi))
            if rng.uniform() < 0.5:
                wave = (wave > 0.5).astype(np.float32)
        else:  # checkerboard
            wave = ((np.floor(s / period) + np.floor(t / period)) % 2).astype(np.float32)
        img = c2 + (c1 - c2) * wave[..., None]
    sigma = rng.uniform(4, 16)
    img = img.astype(np.float32)
    # Uniform noise with standard deviation sigma (cheaper to draw than Gaussian noise).
    img += (rng.random((size, size, 3), dtype=np.float32) - 0.5) * np.float32(sigma * 12**0.5)
    return img


def paint_object(
    img: np.ndarray, mask: np.ndarray, obj: SceneObject, rng: np.random.Generator
) -> None:
    """Fill ``mask`` of ``img`` (float, in place) with the object's colour, light shading and
    noise (hue kept, so the colour word stays right)."""
    base = np.array(COLOURS[obj.colour], dtype=np.float64) + rng.normal(0, 8, size=3)
    a = rng.uniform(0, 2 * np.pi)
    ys, xs = np.nonzero(mask)
    ramp = ((xs - obj.cx) * np.cos(a) + (ys - obj.cy) * np.sin(a)) / max(obj.radius, 1.0)
    shade = 1.0 + 0.12 * np.clip(ramp, -1, 1) - 0.06
    noise = (rng.random((len(ys), 3), dtype=np.float32) - 0.5) * np.float32(5 * 12**0.5)
    pixels = base[None, :] * shade[:, None] + noise
    img[ys, xs] = pixels


@dataclass
class Scene:
    """A rendered scene.

    Attributes:
        image: uint8 (H, W, 3) RGB.
        label_map: uint8 (H, W) class indices (0 = background).
        instance_map: uint8 (H, W) object index + 1 of the visible object (0 = background).
        objects: Drawn objects, in drawing order (later ones on top).
        visible_pixels: Visible pixels per object (same order).
    """

    image: np.ndarray
    label_map: np.ndarray
    instance_map: np.ndarray
    objects: list[SceneObject]
    visible_pixels: list[int]

    @property
    def dominant(self) -> SceneObject:
        """The object with the most visible pixels."""
        return self.objects[int(np.argmax(self.visible_pixels))]


def _place_objects(
    rng: np.random.Generator, size: int, names: list[str], names_to_label: dict[str, int]
) -> list[SceneObject]:
    objects = []
    for name in names:
        colour, shape = name.split(' ')
        radius = rng.uniform(0.09, 0.24) * size
        margin = 0.8 * radius
        objects.append(
            SceneObject(
                label=names_to_label[name],
                colour=colour,
                shape=shape,
                cx=float(rng.uniform(margin, size - margin)),
                cy=float(rng.uniform(margin, size - margin)),
                radius=float(radius),
                angle=0.0 if shape == 'circle' else float(rng.uniform(-30, 30)),
            )
        )
    # Larger objects first, so small ones are not hidden behind them.
    objects.sort(key=lambda o: -o.radius)
    return objects


def render_scene(
    rng: np.random.Generator,
    size: int,
    names: list[str],
    names_to_label: dict[str, int],
    *,
    min_visible: float = 0.4,
    max_tries: int = 50,
    first_dominant: bool = False,
) -> Scene:
    """Draw the named objects on a textured background.

    Placements are re-drawn until each object keeps ``min_visible`` of its area (at most
    ``max_tries`` times; the last try is kept).

    Args:
        rng: Random stream (consumed deterministically).
        size: Image side in pixels.
        names: Class names of the objects (``'<colour> <shape>'``).
        names_to_label: Class name -> label index.
        min_visible: Smallest visible fraction of an object's own area.
        max_tries: Placement attempts.
        first_dominant: Also re-draw until the object named first has the most visible pixels.

    Returns:
        Scene: the image, label map, instance map and objects.
    """
    for _ in range(max_tries):
        objects = _place_objects(rng, size, names, names_to_label)
        masks = [shape_mask(o, size) for o in objects]
        instance = np.zeros((size, size), dtype=np.uint8)
        for k, mask in enumerate(masks):
            instance[mask] = k + 1
        visible = np.bincount(instance.ravel(), minlength=len(objects) + 1)[1:]
        areas = np.array([m.sum() for m in masks])
        ok = np.all(visible >= min_visible * np.maximum(areas, 1)) and np.all(visible > 0)
        if first_dominant:
            ok = ok and objects[int(np.argmax(visible))].name == names[0]
        if ok:
            break
    img = draw_background(rng, size)
    label_map = np.zeros((size, size), dtype=np.uint8)
    for k, obj in enumerate(objects):
        shown = instance == k + 1
        paint_object(img, shown, obj, rng)
        label_map[shown] = obj.label
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return Scene(image, label_map, instance, objects, [int(v) for v in visible])


# --------------------------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------------------------


def _a(word: str) -> str:
    return ('an ' if word[0] in 'aeiou' else 'a ') + word


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ', '.join(parts[:-1]) + ' and ' + parts[-1]


def _plural(phrase: str) -> str:
    return phrase + ('es' if phrase.endswith(('s', 'x', 'ch', 'sh')) else 's')


def _counted(phrases: list[str]) -> list[str]:
    """``['a circle', 'two crosses']`` from ``['circle', 'cross', 'cross']`` (first-seen order)."""
    counts: dict[str, int] = {}
    for phrase in phrases:
        counts[phrase] = counts.get(phrase, 0) + 1
    return [_a(p) if c == 1 else f'{_NUM_WORDS[c]} {_plural(p)}' for p, c in counts.items()]


def make_captions(objects: list[SceneObject], rng: np.random.Generator) -> list[str]:
    """Several phrasings of one scene.

    Besides full names ("a red circle and a blue star"), captions name colours alone
    ("a red object", "two red objects"), shapes alone ("a circle") and reversed compositions
    ("a circle that is red"), so a contrastive text encoder learns each word and can compose
    unseen pairs. The
    phrase ``'a photo of a {name}.'`` (the zero-shot prompt) occurs for single objects.

    Args:
        objects: Objects in the scene.
        rng: Random stream (orders the objects in the sentences).

    Returns:
        list[str]: 8 to 9 captions.
    """
    order = [objects[i] for i in rng.permutation(len(objects))]
    full = [_a(o.name) for o in order]
    n = len(order)
    captions = [
        _join(full),
        f'a photo of {_join(full)}.',
        _join([f'{_a(o.shape)} that is {o.colour}' for o in order]),
        _join(_counted([f'{o.colour} object' for o in order])),
        _join(_counted([o.shape for o in order])),
        _join([f'{_a(o.shape)} coloured {o.colour}' for o in order]),
        f'{_NUM_WORDS[n]} shape{"s" if n > 1 else ""}: {_join(full)}',
        f'there is {_a(order[0].name)} in this picture.',
    ]
    if n > 1:
        captions.append(f'a picture with {_a(order[-1].name)} and other shapes.')
    return captions


# --------------------------------------------------------------------------------------------
# Splits and the folder
# --------------------------------------------------------------------------------------------


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one image (independent of other images and split sizes)."""
    return np.random.default_rng([seed, _SPLIT_CODES[split], index])


def scene_names(
    rng: np.random.Generator, split: str, index: int, seen: list[str], unseen: list[str]
) -> list[str]:
    """Class names of the objects of one image (distinct; 1 to 3)."""
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    every = seen + unseen
    if split == 'train':
        return [seen[i] for i in rng.choice(len(seen), size=count, replace=False)]
    if split == 'pretrain':
        return [every[i] for i in rng.choice(len(every), size=count, replace=False)]
    # val: the first (will-be-large) object cycles through unseen (every 5th image) or seen
    # classes, so even a few val images contain unseen classes; the rest is drawn from all.
    first = unseen[(index // 5) % len(unseen)] if index % 5 == 0 else seen[index % len(seen)]
    rest = [c for c in every if c != first]
    return [first] + [rest[i] for i in rng.choice(len(rest), size=count - 1, replace=False)]


def generate_one(
    seed: int, split: str, index: int, size: int, seen: list[str], unseen: list[str]
) -> tuple[Scene, list[str]]:
    """Render image ``index`` of ``split`` and its captions (pure function of the arguments)."""
    names_to_label = {name: i for i, name in enumerate(class_names())}
    rng = scene_rng(seed, split, index)
    names = scene_names(rng, split, index, seen, unseen)
    # In val, the first named object (cycling through the classes) is the dominant one.
    scene = render_scene(rng, size, names, names_to_label, first_dominant=split == 'val')
    return scene, make_captions(scene.objects, rng)


def generator_args(
    *, seed: int, size: int, num_pretrain: int, num_train: int, num_val: int
) -> dict[str, Any]:
    """The arguments recorded in ``meta.json`` (compared to refuse mixing datasets)."""
    return dict(
        seed=int(seed),
        size=int(size),
        num_pretrain=int(num_pretrain),
        num_train=int(num_train),
        num_val=int(num_val),
    )


def _check_out_dir(
    out_dir: str, meta: dict[str, Any], force: bool, *, workers: int = 1, progress: bool = False
) -> str | None:
    """Check ``out_dir`` before writing.

    Returns:
        str | None: ``'complete'`` when it already holds these scenes, ``'upgraded'`` when it
        held them at version 2 and the pretrain label maps were just added (see
        :func:`_upgrade_from_v2`), None when it is ready for writing. Raises
        :class:`ScenesExistError` when it holds something else.
    """
    meta_path = osp.join(out_dir, 'meta.json')
    marker = osp.join(out_dir, '.generating.json')
    if not osp.exists(out_dir):
        return None
    if not osp.isdir(out_dir):
        raise ScenesExistError(f'--out {out_dir} exists and is not a folder')
    if force:
        shutil.rmtree(out_dir)
        return None
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            old = json.load(f)
        same_args = old.get('args') == meta['args']
        version = old.get('generator_version')
        if same_args and version == _UPGRADABLE_VERSION:
            if _is_complete(out_dir, meta['args'], pretrain_labels=False):
                _upgrade_from_v2(out_dir, meta, workers=workers, progress=progress)
                return 'upgraded'
            # an incomplete version-2 folder: 'files are missing' below
        elif not (same_args and version == meta['generator_version']):
            raise ScenesExistError(
                f'{out_dir} holds scenes made with different generator arguments '
                f'(found {old.get("args")} version {old.get("generator_version")}, asked '
                f'{meta["args"]} version {meta["generator_version"]}); choose another --out, or '
                'delete the folder (or pass force=True / --force) to regenerate'
            )
        if _is_complete(out_dir, meta['args']):
            return 'complete'
        raise ScenesExistError(
            f'{out_dir}/meta.json matches but files are missing; delete the folder (or pass '
            'force=True / --force) to regenerate'
        )
    if osp.isfile(marker):
        with open(marker) as f:
            old_args = json.load(f)
        if old_args != meta['args']:
            raise ScenesExistError(
                f'{out_dir} holds an unfinished generation with different arguments '
                f'({old_args}); delete it or pass force=True / --force'
            )
        return None  # an interrupted run with the same arguments: write over it
    if os.listdir(out_dir):
        raise ScenesExistError(
            f'--out {out_dir} exists, is not empty and has no meta.json (not a scenes folder); '
            'refusing to write into it'
        )
    return None


def _split_counts(args: dict[str, Any]) -> dict[str, int]:
    return {split: args[f'num_{split}'] for split in SPLITS}


def _is_complete(out_dir: str, args: dict[str, Any], *, pretrain_labels: bool = True) -> bool:
    """Whether every split's last file was written (files are written in index order).

    ``pretrain_labels=False`` checks a version-2 folder, which has no ``ann_dir/pretrain``.
    """
    for split, n in _split_counts(args).items():
        last = f'{n - 1:06d}.png'
        if n and not osp.isfile(osp.join(out_dir, 'img_dir', split, last)):
            return False
        labelled = pretrain_labels or split != 'pretrain'
        if n and labelled and not osp.isfile(osp.join(out_dir, 'ann_dir', split, last)):
            return False
    return osp.isfile(osp.join(out_dir, 'captions', 'pretrain.jsonl'))


def _write_atomic(path: str, data: bytes) -> None:
    """Write ``path`` through a temporary file, so an interrupted write leaves no partial file."""
    tmp = f'{path}.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def _upgrade_from_v2(out_dir: str, meta: dict[str, Any], *, workers: int, progress: bool) -> None:
    """Add the missing ``ann_dir/pretrain`` label maps to a complete version-2 folder, then
    rewrite ``meta.json`` at the current version.

    The renderer is a pure function of (seed, split, index), so the label maps equal those of
    a fresh generation and the existing files stay as they are. An interrupted upgrade is
    resumed by the next call (``meta.json`` still says version 2 until the end).
    """
    args = meta['args']
    ann_dir = osp.join(out_dir, 'ann_dir', 'pretrain')
    os.makedirs(ann_dir, exist_ok=True)
    missing = [
        i for i in range(args['num_pretrain']) if not osp.isfile(osp.join(ann_dir, f'{i:06d}.png'))
    ]
    jobs = (
        (args['seed'], 'pretrain', i, args['size'], meta['seen'], meta['unseen']) for i in missing
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(missing), desc='pretrain label maps', unit='img')
    pool = _open_pool(workers)
    try:
        labels = pool.imap(_make_label, jobs, chunksize=64) if pool else map(_make_label, jobs)
        for i, label_png in zip(missing, labels):
            _write_atomic(osp.join(ann_dir, f'{i:06d}.png'), label_png)
            if bar is not None:
                bar.update(1)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()
    _write_atomic(osp.join(out_dir, 'meta.json'), _meta_bytes(meta))
    if progress:
        print(
            f'upgraded {out_dir} from generator version {_UPGRADABLE_VERSION} to '
            f'{meta["generator_version"]}: wrote {len(missing)} pretrain label maps '
            '(other files unchanged)'
        )


def _meta_bytes(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, indent=1).encode()


def _open_pool(workers: int) -> Any:
    """A pool of ``workers`` processes, or None for ``workers <= 1`` (render in this process)."""
    if workers <= 1:
        return None
    import multiprocessing

    return multiprocessing.get_context('fork').Pool(workers)


def _encode_png(array: np.ndarray, compress_level: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format='png', compress_level=compress_level)
    return buffer.getvalue()


def _make_label(job: tuple) -> bytes:
    """Render one image and return its label map png (as :func:`_make_item` writes it)."""
    scene, _ = generate_one(*job)
    return _encode_png(scene.label_map, 1)


def _make_item(job: tuple) -> tuple[bytes, bytes, str, str]:
    """Render one image; returns (image png, label png, captions line, objects line).

    A top-level function of plain arguments, so worker processes can run it.
    """
    seed, split, index, size, seen, unseen = job
    scene, captions = generate_one(seed, split, index, size, seen, unseen)
    rel = f'img_dir/{split}/{index:06d}.png'
    # Images are noisy (zlib gains ~20%), label maps are flat (zlib gains ~20x).
    image_png = _encode_png(scene.image, 0)
    label_png = _encode_png(scene.label_map, 1)
    record = dict(
        image=rel,
        dominant=scene.dominant.name,
        objects=[
            dict(
                name=o.name,
                label=o.label,
                cx=round(o.cx, 3),
                cy=round(o.cy, 3),
                radius=round(o.radius, 3),
                angle=round(o.angle, 3),
                visible_pixels=v,
            )
            for o, v in zip(scene.objects, scene.visible_pixels)
        ],
    )
    caption_line = json.dumps(dict(image=rel, captions=captions))
    return image_png, label_png, caption_line, json.dumps(record)


def generate_scenes(
    out_dir: str,
    *,
    seed: int = 0,
    size: int = 96,
    num_pretrain: int = DEFAULT_NUM_PRETRAIN,
    num_train: int = DEFAULT_NUM_TRAIN,
    num_val: int = DEFAULT_NUM_VAL,
    force: bool = False,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, Any]:
    """Write the scenes dataset to ``out_dir`` (idempotent).

    If ``out_dir`` already holds a complete dataset made with the same arguments, nothing is
    written; a complete version-2 dataset with the same arguments is upgraded in place (only
    the pretrain label maps are written, then ``meta.json``). If it holds a dataset made with
    other arguments, or unrelated files, :class:`ScenesExistError` is raised (unless
    ``force``, which deletes and regenerates).

    Args:
        out_dir: Output folder (the scenes root, e.g. ``data/scenes``).
        seed: Seed of every random choice (class split, layouts, colours, captions).
        size: Image side in pixels (64 to 128 suits the tiny models; the configs use 96).
        num_pretrain: Images with captions of all classes.
        num_train: Images with label maps of seen classes only.
        num_val: Images with label maps of all classes.
        force: Delete ``out_dir`` first if it exists.
        progress: Show a tqdm progress bar.
        workers: Processes rendering images (the files are identical for any number).

    Returns:
        dict: the meta (``classes``, ``palette``, ``seen``, ``unseen``, ``generator_version``,
        ``args``) plus ``skipped`` (True when the folder was already complete, or was
        upgraded from version 2).
    """
    if size < 32:
        raise ValueError(f'size must be at least 32 px, got {size}')
    for name, n in (('num_pretrain', num_pretrain), ('num_train', num_train), ('num_val', num_val)):
        if n < 0:
            raise ValueError(f'{name} must be >= 0, got {n}')
    args = generator_args(
        seed=seed, size=size, num_pretrain=num_pretrain, num_train=num_train, num_val=num_val
    )
    classes = class_names()
    unseen = unseen_classes(seed)
    seen = [c for c in classes[1:] if c not in unseen]
    meta: dict[str, Any] = dict(
        classes=classes,
        palette=palette(),
        seen=seen,
        unseen=unseen,
        generator_version=GENERATOR_VERSION,
        args=args,
    )
    state = _check_out_dir(out_dir, meta, force, workers=workers, progress=progress)
    if state is not None:
        if progress and state == 'complete':
            print(f'{out_dir} already holds these scenes (same arguments); nothing to do')
        return dict(meta, skipped=True)

    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, '.generating.json'), 'w') as f:
        json.dump(args, f)
    for sub in ('captions', 'annotations'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(_split_counts(args).values()), desc='scenes', unit='img')
    pool = _open_pool(workers)
    try:
        for split, n in _split_counts(args).items():
            _write_split(out_dir, split, n, seed, size, seen, unseen, pool, bar)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()
    with open(osp.join(out_dir, 'meta.json'), 'wb') as f:
        f.write(_meta_bytes(meta))
    os.remove(osp.join(out_dir, '.generating.json'))
    return dict(meta, skipped=False)


def _write_split(
    out_dir: str,
    split: str,
    n: int,
    seed: int,
    size: int,
    seen: list[str],
    unseen: list[str],
    pool: Any,
    bar: Any,
) -> None:
    """Write the ``n`` images (and label maps, captions, object records) of one split, in
    index order whatever the pool's scheduling."""
    img_dir = osp.join(out_dir, 'img_dir', split)
    ann_dir = osp.join(out_dir, 'ann_dir', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    jobs = ((seed, split, i, size, seen, unseen) for i in range(n))
    items = pool.imap(_make_item, jobs, chunksize=64) if pool else map(_make_item, jobs)
    with (
        open(osp.join(out_dir, 'captions', f'{split}.jsonl'), 'w') as cap_f,
        open(osp.join(out_dir, 'annotations', f'{split}.jsonl'), 'w') as ann_f,
    ):
        for i, (image_png, label_png, caption_line, record_line) in enumerate(items):
            name = f'{i:06d}.png'
            with open(osp.join(img_dir, name), 'wb') as f:
                f.write(image_png)
            with open(osp.join(ann_dir, name), 'wb') as f:
                f.write(label_png)
            cap_f.write(caption_line + '\n')
            ann_f.write(record_line + '\n')
            if bar is not None:
                bar.update(1)
