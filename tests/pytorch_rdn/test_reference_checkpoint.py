"""The reference port's checkpoints: whole pickled modules (``torch.save(model)``) load only with --allow_pickle.

A model is built the way the port builds it (its own ``model/rdn.py`` package, with the loss, Adam
and MultiStepLR created inside ``__init__``), pickled whole into ``ckpt/RDN/model_epoch_N.pth`` by a
separate process, and loaded here into this repository's ``reference`` preset: the outputs must be
identical. End to end, ``inference.py`` on such a checkpoint writes the pixels the reference's
``inference.py`` writes (its colour steps are redone in the saving process, from the port's facts:
PIL's full-range Y through the network, Y truncated to uint8, PIL's bicubic Cb/Cr, PIL's merge).
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


# The reference's inference.py, step by step (facts: seed_implementations.md section 1.5 and the port's
# inference.py): PIL YCbCr, Y / 255 through the whole-module network at once, x255, clip, np.uint8
# (truncation), Cb and Cr resized with PIL's bicubic to the output size, merged, converted by PIL.
REFERENCE_INFERENCE = '''
import sys
import numpy as np, torch
from PIL import Image
model = torch.load('ckpt/RDN/model_epoch_5.pth', weights_only=False)
ycc = Image.open(sys.argv[1]).convert('YCbCr')
y, cb, cr = ycc.split()
x = torch.from_numpy(np.asarray(y, dtype=np.float32) / np.float32(255.0))[None, None]
with torch.no_grad():
    out = model(x)[0].numpy()
y_out = Image.fromarray(np.uint8((out * 255.0).clip(0, 255)[0]), mode='L')
rgb = Image.merge('YCbCr', [y_out, cb.resize(y_out.size, Image.BICUBIC), cr.resize(y_out.size, Image.BICUBIC)])
rgb.convert('RGB').save(sys.argv[2])
np.save(sys.argv[2] + '.y.npy', np.asarray(y_out))
'''

# Random weights whose output on the photo spans the grey range (mean 0.5, std 0.2), so that clipping
# does not hide a wrong Y: conv2 is rescaled on the PIL Y of the photo the test super-resolves.
SAVE_SPREAD = '''
import sys
import numpy as np, torch
from PIL import Image
from model.rdn import RDN
torch.manual_seed(3)
model = RDN(channel=1, growth_rate=64, rdb_number=3, upscale_factor=2)
y = np.asarray(Image.open(sys.argv[1]).convert('YCbCr').split()[0], dtype=np.float32) / np.float32(255.0)
with torch.no_grad():
    model.conv2.bias.zero_()
    raw = model(torch.from_numpy(y)[None, None])
    k = 0.2 / float(raw.std())
    model.conv2.weight.mul_(k)
    model.conv2.bias.fill_(0.5 - k * float(raw.mean()))
torch.save(model, 'ckpt/RDN/model_epoch_5.pth')
'''


@pytest.fixture(scope='module')
def reference_run(tmp_path_factory, tiny_data):
    """A reference-format x2 checkpoint and the reference's inference of a photo: ``(root, photo, sr, y)``."""
    root = tmp_path_factory.mktemp('port_x2')
    (root / 'model').mkdir()
    (root / 'model' / 'rdn.py').write_text(textwrap.dedent(PORT_MODEL))
    (root / 'ckpt' / 'RDN').mkdir(parents=True)
    photo = sorted((tiny_data.ref / 'train').iterdir())[0]          # a real photograph, 64x80
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH='')
    for script, args in ((SAVE_SPREAD, [str(photo)]), (REFERENCE_INFERENCE, [str(photo), str(root / 'ref_sr.png')])):
        proc = subprocess.run([sys.executable, '-c', script, *args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
    return root, photo, cv2.imread(str(root / 'ref_sr.png')), np.load(root / 'ref_sr.png.y.npy')


def _our_inference(rdn, root, photo, out, *flags):
    rdn.inference.main(['--input_image', str(photo), '--model', str(root / 'ckpt' / 'RDN'), '--allow_pickle',
                        '--output_filename', str(out), *flags])
    return cv2.imread(str(out))


def test_reference_checkpoint_through_inference_py_gives_the_references_pixels(rdn, reference_run, tmp_path, capsys):
    root, photo, expected, ref_y = reference_run
    assert 40 < ref_y.mean() < 215 and ref_y.std() > 20 and np.mean((ref_y == 0) | (ref_y == 255)) < 0.1   # no clip
    got = _our_inference(rdn, root, photo, tmp_path / 'sr.png')
    assert got.shape == expected.shape == (128, 160, 3)
    assert int(np.abs(got.astype(int) - expected).max()) <= 1                     # rounding, not truncation
    assert 'Y pil (the reference port trained on PIL\'s Y)' in capsys.readouterr().out
    exact = _our_inference(rdn, root, photo, tmp_path / 'trunc.png', '--truncate_y')
    assert int(np.abs(exact.astype(int) - expected).max()) == 0                  # the reference's truncation
    other = _our_inference(rdn, root, photo, tmp_path / 'bt601.png', '--ycbcr=bt601')
    assert int(np.abs(other.astype(int) - expected).max()) > 5                   # the check has teeth


def test_checkpoints_written_here_carry_their_colour_pipeline(rdn, tiny_data, fast_flags, tmp_path, capsys):
    for pipeline, ycbcr in (('reference', 'pil'), ('standard', 'bt601')):
        out = tmp_path / pipeline
        rdn.train.main(fast_flags + ['--preset=reference', '--max_steps=1', f'--pipeline={pipeline}',
                                     f'--output_path={out}'])
        _, info = rdn.utils.load_model(out / 'ckpt' / 'RDN')
        assert (info['ycbcr'], info['ycbcr_from']) == (ycbcr, 'stored in the checkpoint')
        state = torch.load(rdn.utils.find_checkpoint(out / 'ckpt' / 'RDN'), weights_only=True)
        del state['ycbcr']                                    # written before the pipeline was stored
        torch.save(state, out / 'old.pth')
        _, info = rdn.utils.load_model(out / 'old.pth')
        assert info['ycbcr'] == ycbcr and f'--pipeline={pipeline}' in info['ycbcr_from']
        image = sorted((tiny_data.ref / 'test').iterdir())[0]
        capsys.readouterr()
        rdn.inference.main(['--input_image', str(image), '--model', str(out / 'ckpt' / 'RDN'),
                            '--output_filename', str(tmp_path / f'{pipeline}.png')])
        assert f'Y {ycbcr} (stored in the checkpoint)' in capsys.readouterr().out
