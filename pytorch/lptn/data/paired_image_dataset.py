"""``PairedImageDataset``: source and target of the same photo (validation, test, and the paired training mode)."""
import numpy as np
from torch.utils.data import Dataset

from data import img2tensor, open_sources
from data.transforms import augment, paired_random_crop

__all__ = ['PairedImageDataset']


class PairedImageDataset(Dataset):
    """Pairs matched by key: for an LMDB the two ``meta_info.txt`` key lists must be equal; for folders
    target ``<stem>`` pairs with source ``filename_tmpl.format(<stem>)``, and a target without a source
    or a source without a target is refused (one line naming it), never left out. In training, one random crop
    of ``gt_size`` at the same position in both, then the same flips/transposes.

    Returns ``{'lq', 'gt', 'lq_path', 'gt_path'}``.

    Args:
        opt (dict): A ``datasets.<phase>`` section.
        seed (int): The run's seed. Default: 0.
        base (str | Path | None): Folder that relative dataroots may be relative to. Default: None.
    """

    def __init__(self, opt, seed=0, base=None):
        self.opt, self.seed = opt, int(seed)
        self.lq, self.gt = open_sources(opt, base)
        backend, phase = opt['io_backend']['type'], opt['phase']
        tmpl = opt.get('filename_tmpl', '{}')
        if backend == 'lmdb':
            if self.lq.keys != self.gt.keys:
                raise ValueError(f'datasets.{phase}: the keys of dataroot_lq and dataroot_gt differ '
                                 f'({len(self.lq.keys)} vs {len(self.gt.keys)} keys)')
            self.pairs = [(k, k) for k in self.gt.keys]
        else:
            self.pairs = []
            for gt_key in self.gt.keys:
                lq_key = tmpl.format(gt_key)
                if lq_key not in self.lq.paths:
                    raise ValueError(f"datasets.{phase}.dataroot_lq: no source image '{lq_key}' for target "
                                     f"'{gt_key}' in {self.lq.root}")
                self.pairs.append((lq_key, gt_key))
            paired = {lq_key for lq_key, _ in self.pairs}
            alone = [k for k in self.lq.keys if k not in paired]
            if alone:                                  # would be left out of the scores without a word
                raise ValueError(f"datasets.{phase}.dataroot_gt: no target image for source {self.lq.paths[alone[0]]} "
                                 f"in {self.gt.root} ({len(alone)} source(s) without a target; filename_tmpl "
                                 f"{tmpl!r})")
        self.enlarge = int(opt.get('dataset_enlarge_ratio', 1)) if opt['phase'] == 'train' else 1

    def __len__(self):
        return len(self.pairs) * self.enlarge

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        lq_key, gt_key = self.pairs[index % len(self.pairs)]
        lq, gt = self.lq.read(lq_key), self.gt.read(gt_key)
        if lq.shape != gt.shape:
            raise ValueError(f"datasets.{self.opt['phase']}: source '{lq_key}' {lq.shape} and target '{gt_key}' "
                             f'{gt.shape} differ in size')
        if self.opt['phase'] == 'train':
            rng = np.random.default_rng([self.seed, int(epoch), int(index)])
            size = self.opt['gt_size']
            if min(gt.shape[:2]) < size:
                raise ValueError(f"datasets.train.dataroot_gt: image '{gt_key}' is smaller than gt_size={size}")
            lq, gt = paired_random_crop(lq, gt, size, 1, rng)
            lq, gt = augment([lq, gt], rng, self.opt['use_flip'], self.opt['use_rot'])
        return {'lq': img2tensor(lq), 'gt': img2tensor(gt), 'lq_path': self.lq.paths[lq_key],
                'gt_path': self.gt.paths[gt_key]}
