"""Crops and augmentations of the LPTN datasets (the reference's ``codes/data/transforms.py``), on ``common.data``."""
from common.data import augment, paired_random_crop, unpaired_random_crop

__all__ = ['augment', 'paired_random_crop', 'unpaired_random_crop', 'random_crop_size']


def random_crop_size(h, w, rng, low=0.6):
    """The reference's crop when ``if_fix_size`` is false: sides ``ratio * (h, w)`` with one ratio in [0.6, 1)."""
    ratio = low + (1.0 - low) * float(rng.random())
    return max(1, int(h * ratio)), max(1, int(w * ratio))
