"""``UnPairedImageDataset``: a source crop and an independent reference crop (the unpaired GAN's data)."""
import numpy as np
from torch.utils.data import Dataset

from data import img2tensor, open_sources
from data.transforms import augment, random_crop_size, unpaired_random_crop

__all__ = ['UnPairedImageDataset']


class UnPairedImageDataset(Dataset):
    """Sample ``index``: source ``lq`` image ``index % N_lq`` and reference image ``index % N_gt`` (the
    reference's pairing of list positions, not of contents), each cropped at its own random position
    (``gt_size`` when ``if_fix_size``), then the same flips/transposes for both.

    Returns ``{'lq', 'ref', 'lq_path', 'ref_path'}`` (RGB float tensors in [0, 1]); no 'gt'.

    Args:
        opt (dict): The ``datasets.train`` section.
        seed (int): The run's seed.
        base (str | Path | None): Folder that relative dataroots may be relative to. Default: None.
    """

    def __init__(self, opt, seed=0, base=None):
        self.opt, self.seed = opt, int(seed)
        self.lq, self.ref = open_sources(opt, base)
        self.enlarge = int(opt.get('dataset_enlarge_ratio', 1)) if opt['phase'] == 'train' else 1

    def __len__(self):
        return len(self.lq) * self.enlarge

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        lq_key, ref_key = self.lq.keys[index % len(self.lq)], self.ref.keys[index % len(self.ref)]
        lq, ref = self.lq.read(lq_key), self.ref.read(ref_key)
        if self.opt['phase'] == 'train':
            if self.opt['if_fix_size']:
                size = self.opt['gt_size']
                for name, img, k in (('dataroot_lq', lq, lq_key), ('dataroot_gt', ref, ref_key)):
                    if min(img.shape[:2]) < size:
                        raise ValueError(f"datasets.train.{name}: image '{k}' {img.shape[1]}x{img.shape[0]} is "
                                         f'smaller than gt_size={size}')
                lq, ref = unpaired_random_crop(lq, ref, size, rng)
            else:
                h, w = random_crop_size(*lq.shape[:2], rng)
                lq = lq[:h, :w]
                rh, rw = random_crop_size(*ref.shape[:2], rng)
                ref = ref[:rh, :rw]
            lq, ref = augment([lq, ref], rng, self.opt['use_flip'], self.opt['use_rot'])
        return {'lq': img2tensor(lq), 'ref': img2tensor(ref), 'lq_path': self.lq.paths[lq_key],
                'ref_path': self.ref.paths[ref_key]}
