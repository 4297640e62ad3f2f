"""RDN data: training patches, the reference port's centre crops, test images, and the tensor/image bridge.

Training (the default, ``--pipeline=standard``): random LR patches with the 8 dihedral augmentations,
from a folder of HR images (LR made on the fly with ``common``'s MATLAB bicubic), the DIV2K layout
(HR + ``LR_bicubic/X{s}``) or a ``common.lmdb_io`` LMDB. Every random choice of sample ``index`` in
epoch ``epoch`` comes from ``numpy.random.default_rng([seed, epoch, index])``, and the order of an
epoch from ``common.runs.epoch_order(seed, epoch)`` (:class:`EpochSampler`), so DataLoader workers,
restarts and resumes all see the same batches.

``--pipeline=reference`` is the port's data: one centre crop of ``256 - 256 % r`` per image, LR by
PIL's bilinear resize, PIL's (JPEG, full-range) Y, no augmentation. It exists to compare with the
seed's table; its LR is not the MATLAB bicubic of the SR literature.
"""
import re
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from common.color import bgr2ycbcr, ycbcr2bgr
from common.data import augment, bicubic_lr, modcrop
from common.imgio import ImageError, float2uint8, list_images, read_image
from common.imresize import imresize
from common.lmdb_io import LmdbImageReader
from common.runs import epoch_order

__all__ = ['COLOURS', 'YCBCR', 'pil_ycbcr', 'to_tensor', 'to_image', 'FolderSource', 'LmdbSource', 'TrainPatches',
           'EpochSampler', 'ReferenceCrops', 'load_test_images', 'reference_crop_size']

COLOURS = ('y', 'rgb')
# The Y a 1-channel network reads: MATLAB's studio-range BT.601 (this repository's training), or PIL's
# full-range Y (the reference port's, and this repository's --pipeline=reference).
YCBCR = ('bt601', 'pil')
CACHE_BYTES = 256 << 20          # keep decoded images in memory when the files total less than this
_LR_MARGIN = 4                   # LR pixels around a patch made on the fly: more than the bicubic support


# --- tensors and images ---------------------------------------------------------------------------

def pil_ycbcr(img):
    """A BGR uint8 image (HWC, or HW gray) -> PIL's full-range YCbCr image (``Image.convert('YCbCr')``).

    This is the reference port's colour space (``utils.load_img``, ``inference.py``): JPEG's
    full-range BT.601, Y in 0..255 rounded by PIL, not MATLAB's studio-range Y (16..235).
    """
    from PIL import Image
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(img[..., ::-1])).convert('YCbCr')


def to_tensor(img, colour, ycbcr='bt601'):
    """A BGR uint8 image (HWC, or HW gray) -> float32 tensor [C, H, W] in [0, 1].

    Args:
        img (np.ndarray): uint8 image as ``common.imgio`` reads it.
        colour (str): 'y' ([1, H, W]) or 'rgb' ([3, H, W]).
        ycbcr (str): For 'y', which Y (see ``YCBCR``): 'bt601', MATLAB's ``rgb2ycbcr`` Y (studio range,
            unrounded; the SR papers'), or 'pil', PIL's full-range Y (the reference port's). Default: 'bt601'.
    """
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if colour == 'y' and ycbcr == 'pil':
        y = np.asarray(pil_ycbcr(img))[..., 0]
        return torch.from_numpy((y.astype(np.float32) / np.float32(255.0))[None])
    unit = img.astype(np.float32) / np.float32(255.0)
    if colour == 'y':
        return torch.from_numpy(bgr2ycbcr(unit, y_only=True).astype(np.float32)[None])
    return torch.from_numpy(np.ascontiguousarray(unit[..., ::-1].transpose(2, 0, 1)))


def to_image(out, colour, lr=None, scale=None, ycbcr='bt601', truncate_y=False):
    """A network output [C, H, W] (float, [0, 1], not clamped) -> BGR uint8 HWC image.

    Args:
        out (torch.Tensor | np.ndarray): The output of one image.
        colour (str): 'y' or 'rgb'.
        lr (np.ndarray | None): For 'y': the BGR uint8 LR input, which gives Cb and Cr. Default: None.
        scale (int | None): For 'y': the upscaling factor. Default: None.
        ycbcr (str): For 'y': 'bt601' (Cb and Cr of the MATLAB-bicubic upscale of ``lr``, BT.601 studio
            range back to BGR) or 'pil' (the reference's ``inference.py``: PIL's Cb and Cr of ``lr``, each
            upscaled with PIL's bicubic, merged with Y and converted by PIL). Default: 'bt601'.
        truncate_y (bool): For 'pil': make Y uint8 by truncation, as the reference's ``np.uint8`` does (up to
            one grey level darker), instead of rounding. Default: False.
    """
    out = out.detach().float().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    if colour == 'rgb':
        return float2uint8(out.transpose(1, 2, 0)[..., ::-1])
    if ycbcr == 'pil':
        from PIL import Image
        y = np.clip(np.asarray(out[0], np.float32) * np.float32(255.0), 0, 255)
        y = Image.fromarray(y.astype(np.uint8) if truncate_y else np.floor(y + 0.5).astype(np.uint8), mode='L')
        _, cb, cr = pil_ycbcr(lr).split()
        merged = Image.merge('YCbCr', [y, cb.resize(y.size, Image.BICUBIC), cr.resize(y.size, Image.BICUBIC)])
        return np.ascontiguousarray(np.asarray(merged.convert('RGB'))[..., ::-1])
    up = imresize(lr, scale=scale)
    ycc = bgr2ycbcr(up.astype(np.float64) / 255.0)
    ycc[..., 0] = out[0]
    return float2uint8(ycbcr2bgr(ycc))


# --- image sources ------------------------------------------------------------------------------

class _Source:
    """Indexed HR images (mod-cropped to the scale) with their LR images where stored."""

    def __init__(self, scale, names, total_bytes):
        self.scale, self.names = scale, names
        self.cache = {} if total_bytes < CACHE_BYTES else None

    def __len__(self):
        return len(self.names)

    def sizes(self):
        """``[(hr_hw, lr_hw or None)]`` of every image as stored (read from file headers or the LMDB's
        ``meta_info.txt``, without decoding)."""
        raise NotImplementedError

    def check_sizes(self, lr_patch):
        """Refuse, in one line naming the image, its size and the patch, an image whose LR is smaller than
        ``lr_patch`` or whose stored LR is not its HR / scale; run before training, so that no worker
        meets it mid-epoch."""
        s = self.scale
        for name, (hr, lr) in zip(self.names, self.sizes()):
            h, w = hr[0] // s, hr[1] // s
            if lr is not None and tuple(lr) != (h, w):
                raise ImageError(f'{name}: LR size {tuple(lr)} x{s} does not match the HR size {(h * s, w * s)} '
                                 f'(wrong --upscale_factor?)')
            if lr_patch > min(h, w):
                raise ImageError(f'{name}: {hr[0]}x{hr[1]} pixels (LR {h}x{w} at x{s}) is smaller than the patch '
                                 f'--patch_size={lr_patch * s} (LR {lr_patch}x{lr_patch}); lower --patch_size or '
                                 f'remove the image')

    def get(self, i):
        """``(hr, lr or None)`` of image ``i``, BGR uint8."""
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        hr, lr = self._read(i)
        hr = np.ascontiguousarray(modcrop(hr, self.scale))
        if lr is not None and (lr.shape[0] * self.scale, lr.shape[1] * self.scale) != hr.shape[:2]:
            raise ImageError(f'{self.names[i]}: LR size {lr.shape[:2]} x{self.scale} does not match the HR size '
                             f'{hr.shape[:2]} (wrong --upscale_factor?)')
        if self.cache is not None:
            self.cache[i] = (hr, lr)
        return hr, lr


class FolderSource(_Source):
    """HR images of a folder, with DIV2K-named LR images (``0001x4.png``) of another folder if given.

    Args:
        hr_dir (str | Path): Folder of HR images.
        lr_dir (str | Path | None): Folder of LR images named ``{stem}x{scale}{ext}``. Default: None
            (LR made from HR on the fly).
        scale (int): The upscaling factor.
    """

    def __init__(self, hr_dir, lr_dir, scale):
        self.folders = [Path(hr_dir)] + ([Path(lr_dir)] if lr_dir is not None else [])
        self.hr = list_images(hr_dir)
        self.lr = None
        if lr_dir is not None:
            by_stem = {p.stem: p for p in list_images(lr_dir)}
            missing = [p.name for p in self.hr if f'{p.stem}x{scale}' not in by_stem]
            if missing:
                raise ImageError(f'{lr_dir}: no LR image for {missing[0]} (expected {Path(missing[0]).stem}x{scale}.*; '
                                 f'{len(missing)} missing)')
            self.lr = [by_stem[f'{p.stem}x{scale}'] for p in self.hr]
        total = sum(p.stat().st_size for p in self.hr + (self.lr or []))
        super().__init__(scale, [str(p) for p in self.hr], total)

    def _read(self, i):
        lr = read_image(self.lr[i], bits=8) if self.lr is not None else None
        return read_image(self.hr[i], bits=8), lr

    def sizes(self):
        from PIL import Image

        def size(path):
            try:
                with Image.open(path) as img:
                    return img.size[1], img.size[0]
            except (OSError, ValueError, Image.DecompressionBombError) as err:
                raise ImageError(f'{path}: cannot decode image ({err})') from None
        return [(size(hr), size(self.lr[i]) if self.lr is not None else None) for i, hr in enumerate(self.hr)]


class LmdbSource(_Source):
    """HR images of a ``common.lmdb_io`` LMDB, with LR images of a second one if given.

    LR keys are the HR key or the HR key + ``x{scale}`` (DIV2K names).

    Args:
        hr_path (str | Path): The HR ``.lmdb`` folder.
        lr_path (str | Path | None): The LR ``.lmdb`` folder. Default: None (LR made on the fly).
        scale (int): The upscaling factor.
    """

    def __init__(self, hr_path, lr_path, scale):
        self.folders = [Path(hr_path)] + ([Path(lr_path)] if lr_path is not None else [])
        self.hr = LmdbImageReader(hr_path)
        if not self.hr.keys:
            raise ImageError(f'{hr_path}: the LMDB holds no images')
        self.lr, self.lr_keys = None, None
        if lr_path is not None:
            self.lr = LmdbImageReader(lr_path)
            self.lr_keys = []
            for key in self.hr.keys:
                found = next((k for k in (key, f'{key}x{scale}') if k in self.lr), None)
                if found is None:
                    raise ImageError(f"{lr_path}: no LR image for key '{key}' (expected '{key}' or '{key}x{scale}')")
                self.lr_keys.append(found)
        total = (Path(hr_path) / 'data.mdb').stat().st_size
        super().__init__(scale, [f'{hr_path}[{k}]' for k in self.hr.keys], total)

    def _read(self, i):
        lr = self.lr.read(self.lr_keys[i]) if self.lr is not None else None
        return self.hr.read(self.hr.keys[i]), lr

    def sizes(self):
        return [(self.hr.shapes[k][:2], self.lr.shapes[self.lr_keys[i]][:2] if self.lr is not None else None)
                for i, k in enumerate(self.hr.keys)]


# --- training -----------------------------------------------------------------------------------

def lr_patch_on_the_fly(hr, y, x, lr_patch, scale):
    """The LR patch at LR position (y, x) of MATLAB ``imresize(hr, 1/scale)``, without resizing all of hr.

    Only an HR region of the patch plus a margin wider than the bicubic kernel is resized; the margin
    is cut where it would leave the image, where the whole-image resize mirrors the same pixels, so
    the patch equals the crop of the whole-image LR.
    """
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    y0, x0 = max(0, y - _LR_MARGIN), max(0, x - _LR_MARGIN)
    y1, x1 = min(h, y + lr_patch + _LR_MARGIN), min(w, x + lr_patch + _LR_MARGIN)
    region = bicubic_lr(np.ascontiguousarray(hr[y0 * scale:y1 * scale, x0 * scale:x1 * scale]), scale)
    return region[y - y0:y - y0 + lr_patch, x - x0:x - x0 + lr_patch]


class TrainPatches(Dataset):
    """Random (LR, HR) patch pairs with the 8 dihedral augmentations.

    Args:
        source (_Source): A :class:`FolderSource` or :class:`LmdbSource`.
        patch_size (int): HR patch side, a multiple of the scale (the LR patch is ``patch_size / scale``).
        colour (str): 'y' or 'rgb'.
        seed (int): The run's seed.
        enlarge_ratio (int): Samples per image per epoch. Default: 1.
        augment_flips (bool): Apply the dihedral augmentations. Default: True.
    """

    def __init__(self, source, patch_size, colour, seed, enlarge_ratio=1, augment_flips=True):
        self.source, self.colour, self.seed = source, colour, int(seed)
        self.folders = source.folders
        self.scale = source.scale
        self.lr_patch = patch_size // self.scale
        self.enlarge_ratio, self.augment_flips = int(enlarge_ratio), augment_flips

    def __len__(self):
        return len(self.source) * self.enlarge_ratio

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        i = int(index) % len(self.source)
        hr, lr = self.source.get(i)
        h, w = hr.shape[0] // self.scale, hr.shape[1] // self.scale
        if self.lr_patch > min(h, w):
            raise ImageError(f'{self.source.names[i]}: LR size {h}x{w} is smaller than the LR patch {self.lr_patch} '
                             f'(--patch_size {self.lr_patch * self.scale} at x{self.scale})')
        y, x = int(rng.integers(0, h - self.lr_patch + 1)), int(rng.integers(0, w - self.lr_patch + 1))
        s, p = self.scale, self.lr_patch
        hr_p = hr[y * s:(y + p) * s, x * s:(x + p) * s]
        lr_p = lr[y:y + p, x:x + p] if lr is not None else lr_patch_on_the_fly(hr, y, x, p, s)
        if self.augment_flips:
            lr_p, hr_p = augment([lr_p, hr_p], rng)
        return to_tensor(np.ascontiguousarray(lr_p), self.colour), to_tensor(np.ascontiguousarray(hr_p), self.colour)


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys in the order ``common.runs.epoch_order(n, seed, epoch)``.

    Call :meth:`set_epoch` before each epoch (it runs in the main process, so persistent workers
    follow); its ``start_step`` skips the steps (of ``batch`` samples) a resumed run already took,
    as ``torchzoo.dist.RankShardSampler`` does for a data-parallel run.

    Args:
        n (int): Samples per epoch.
        seed (int): The run's seed.
        shuffle (bool): False keeps the order 0..n-1 (test sets). Default: True.
        batch (int): Samples per step. Default: 1.
    """

    def __init__(self, n, seed, shuffle=True, batch=1):
        self.n, self.seed, self.shuffle, self.batch = int(n), int(seed), shuffle, int(batch)
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch, start_step=0):
        """Visit epoch ``epoch`` (0-based) from its ``start_step``-th step on."""
        self.epoch, self.start = int(epoch), int(start_step) * self.batch

    def __iter__(self):
        order = epoch_order(self.n, self.seed, self.epoch) if self.shuffle else np.arange(self.n)
        return iter([(self.epoch, int(i)) for i in order[self.start:]])

    def __len__(self):
        return self.n - self.start


# --- the reference port's pipeline ----------------------------------------------------------------

def reference_crop_size(scale, crop=256):
    """The port's crop: ``256 - 256 % scale`` (256 for x2/x4, 255 for x3)."""
    return crop - crop % scale


class ReferenceCrops(Dataset):
    """The port's data: a centre crop per image (zero-padded when smaller, as torchvision's CenterCrop),
    LR by PIL bilinear resize to ``crop // scale``, PIL's Y (or RGB), in [0, 1]; no augmentation.

    Args:
        folder (str | Path): Folder of HR images (``<datapath>/train`` or ``/test``).
        scale (int): The upscaling factor.
        colour (str): 'y' (PIL ``convert('YCbCr')`` Y, as the port) or 'rgb'.
    """

    def __init__(self, folder, scale, colour):
        self.folders = [Path(folder)]
        self.paths = list_images(folder)
        self.scale, self.colour = scale, colour
        self.crop = reference_crop_size(scale)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, key):
        from PIL import Image
        index = key[1] if isinstance(key, tuple) else key
        try:
            with Image.open(self.paths[index]) as img:
                img = img.convert('YCbCr').split()[0] if self.colour == 'y' else img.convert('RGB')
        except (OSError, ValueError) as err:
            raise ImageError(f'{self.paths[index]}: cannot decode image ({err})') from None
        w, h = img.size
        left, top = int(round((w - self.crop) / 2.0)), int(round((h - self.crop) / 2.0))
        target = img.crop((left, top, left + self.crop, top + self.crop))
        lr = target.resize((self.crop // self.scale,) * 2, Image.BILINEAR)
        return self._tensor(lr), self._tensor(target)

    @staticmethod
    def _tensor(img):
        arr = np.asarray(img, dtype=np.float32) / np.float32(255.0)
        return torch.from_numpy(arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1)))


# --- test sets ------------------------------------------------------------------------------------

def _set5_stem(path, scale):
    """'baby_HR_x4.png' / 'baby_LRBI_x4.png' -> 'baby'."""
    return re.sub(rf'_[A-Za-z]+_x{scale}$', '', Path(path).stem)


def load_test_images(path, scale, flag='--test_path'):
    """Test images as ``[(name, lr, hr)]`` (BGR uint8; HR mod-cropped, LR of exactly HR / scale).

    ``path`` is the Set5 layout (``HR/x{s}``, with the authors' LR from ``LR_bicubic/x{s}`` when that
    folder exists) or a folder of HR images; LR images that are not given are the MATLAB bicubic of HR.

    Args:
        path (str | Path): The test folder.
        scale (int): The upscaling factor.
        flag (str): The flag that named it, for messages. Default: '--test_path'.
    """
    path = Path(path)
    if not path.is_dir():
        raise ImageError(f"{flag}={path}: {'not a folder' if path.exists() else 'no such folder'}")
    hr_dir, lr_dir = path / 'HR' / f'x{scale}', path / 'LR_bicubic' / f'x{scale}'
    if (path / 'HR').is_dir() and not hr_dir.is_dir():
        raise ImageError(f'{flag}={path}: Set5 layout without HR/x{scale} (wrong --upscale_factor?)')
    if not hr_dir.is_dir():
        hr_dir, lr_dir = path, None
    lrs = {_set5_stem(p, scale): p for p in list_images(lr_dir)} if lr_dir is not None and lr_dir.is_dir() else {}
    images = []
    for p in list_images(hr_dir):
        name = _set5_stem(p, scale)
        hr = np.ascontiguousarray(modcrop(read_image(p, bits=8), scale))
        lr = read_image(lrs[name], bits=8) if name in lrs else bicubic_lr(hr, scale)
        if (lr.shape[0] * scale, lr.shape[1] * scale) != hr.shape[:2]:
            raise ImageError(f'{lrs.get(name, p)}: LR size {lr.shape[:2]} x{scale} does not match the HR size {hr.shape[:2]}')
        images.append((name, lr, hr))
    return images
