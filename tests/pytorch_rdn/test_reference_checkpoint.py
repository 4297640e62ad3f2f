"""The reference port's checkpoints: whole pickled modules (``torch.save(model)``) load only with --allow_pickle.

A model is built the way the port builds it (its own ``model/rdn.py`` package, with the loss, Adam
and MultiStepLR created inside ``__init__``), pickled whole into ``ckpt/RDN/model_epoch_N.pth`` by a
separate process, and loaded here into this repository's ``reference`` preset: the outputs must be
identical.
"""
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch

PORT_MODEL = '''
import torch
import torch.nn as nn


class RDN(nn.Module):
    def __init__(self, channel, growth_rate, rdb_number, upscale_factor):
        super().__init__()
        self.SFF1 = nn.Conv2d(channel, 64, 3, padding=1)
        self.SFF2 = nn.Conv2d(64, 64, 3, padding=1)
        self.RDB1 = RDB(rdb_number, 64, 64)
        self.RDB2 = RDB(rdb_number, 64, 64)
        self.RDB3 = RDB(rdb_number, 64, 64)
        self.GFF1 = nn.Conv2d(64 * 3, 64, 1)
        self.GFF2 = nn.Conv2d(64, 64, 3, padding=1)
        self.upconv = nn.Conv2d(64, 64 * upscale_factor * upscale_factor, 3, padding=1)
        self.pixelshuffle = nn.PixelShuffle(upscale_factor)
        self.conv2 = nn.Conv2d(64, channel, 3, padding=1)
        self.criterion = nn.L1Loss()
        self.optimizer = torch.optim.Adam(self.parameters())
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=[50, 75, 100], gamma=0.5)

    def forward(self, x):
        f_ = self.SFF1(x)
        f_1 = self.RDB1(self.SFF2(f_))
        f_2 = self.RDB2(f_1)
        f_3 = self.RDB3(f_2)
        f = self.GFF2(self.GFF1(torch.cat((f_1, f_2, f_3), 1))) + f_
        return self.conv2(self.pixelshuffle(self.upconv(f)))


class BasicBlock(nn.Module):
    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.ID = input_dim
        self.conv = nn.Conv2d(input_dim, output_dim, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return torch.cat((x, self.relu(self.conv(x))), 1)


class RDB(nn.Module):
    def __init__(self, nb_layers, input_dim, growth_rate):
        super().__init__()
        self.ID, self.GR = input_dim, growth_rate
        self.layer = nn.Sequential(*[BasicBlock(input_dim + i * growth_rate, growth_rate) for i in range(nb_layers)])
        self.conv1x1 = nn.Conv2d(input_dim + nb_layers * growth_rate, growth_rate, 1)

    def forward(self, x):
        return self.conv1x1(self.layer(x)) + x
'''

SAVE = '''
import numpy as np, torch
from model.rdn import RDN
torch.manual_seed(0)
model = RDN(channel=1, growth_rate=64, rdb_number=3, upscale_factor=4)
for p in model.parameters():                       # trained-looking weights, not the initial ones
    p.data.add_(0.01 * torch.randn_like(p))
torch.save(model, 'ckpt/RDN/model_epoch_2.pth', _use_new_zipfile_serialization=False)   # PyTorch 1.5's format
torch.save(model, 'ckpt/RDN/model_epoch_3.pth')
x = torch.from_numpy(np.load('x.npy'))
with torch.no_grad():
    np.save('out.npy', model(x).numpy())
'''


@pytest.fixture(scope='module')
def port_checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('port')
    (root / 'model').mkdir()
    (root / 'model' / 'rdn.py').write_text(textwrap.dedent(PORT_MODEL))
    (root / 'ckpt' / 'RDN').mkdir(parents=True)
    x = np.random.default_rng(1).random((2, 1, 12, 10), dtype=np.float32)
    np.save(root / 'x.npy', x)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')
    proc = subprocess.run([sys.executable, '-c', SAVE], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return root, torch.from_numpy(x), np.load(root / 'out.npy')


def test_the_ports_pickled_module_loads_with_the_opt_in_and_gives_identical_outputs(rdn, port_checkpoints):
    root, x, expected = port_checkpoints
    for path in (root / 'ckpt' / 'RDN', root / 'ckpt' / 'RDN' / 'model_epoch_2.pth'):   # folder: the newest (3)
        model, info = rdn.utils.load_model(path, allow_pickle=True)
        assert info['arch']['upscale'] == 4 and info['arch']['num_in_ch'] == 1 and 'pickled module' in info['source']
        with torch.no_grad():
            np.testing.assert_array_equal(model(x).numpy(), expected)
    assert rdn.utils.find_checkpoint(root / 'ckpt' / 'RDN').name == 'model_epoch_3.pth'
    fresh = rdn.rdn.build_rdn('reference', 4)
    assert set(fresh.state_dict()) == set(model.state_dict())


def test_without_the_opt_in_it_is_refused(rdn, port_checkpoints):
    root, _, _ = port_checkpoints
    with pytest.raises(rdn.torchzoo.checkpoint.PickleNotAllowed,
                       match=r'model_epoch_3.pth: holds pickled Python objects .*pass --allow_pickle if you trust it'):
        rdn.utils.load_model(root / 'ckpt' / 'RDN')


def test_inference_and_fine_tuning_from_the_ports_checkpoint(rdn, port_checkpoints, tiny_data, fast_flags, tmp_path,
                                                             capsys):
    root, _, _ = port_checkpoints
    image = tiny_data.ref / 'test' / sorted(p.name for p in (tiny_data.ref / 'test').iterdir())[0]
    out = tmp_path / 'sr.png'
    rdn.inference.main(['--input_image', str(image), '--model', str(root / 'ckpt' / 'RDN'), '--allow_pickle',
                        '--output_filename', str(out)])
    lr = cv2.imread(str(image))
    assert cv2.imread(str(out)).shape == (4 * lr.shape[0], 4 * lr.shape[1], 3)
    with pytest.raises(ValueError, match='pass --allow_pickle'):
        rdn.inference.main(['--input_image', str(image), '--model', str(root / 'ckpt' / 'RDN'),
                            '--output_filename', str(tmp_path / 'no.png')])
    assert not (tmp_path / 'no.png').exists()
    rdn.train.main(fast_flags + ['--preset=reference', '--max_steps=1', f'--pre_trained_path={root / "ckpt" / "RDN"}',
                                 '--allow_pickle', f'--output_path={tmp_path / "ft"}'])
    assert 'model_epoch_3.pth (the reference port\'s pickled module (--allow_pickle))' in capsys.readouterr().out
