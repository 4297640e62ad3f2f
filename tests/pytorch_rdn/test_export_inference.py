"""export.py (ONNX, dynamic H/W, onnxruntime parity) and inference.py (file, folder, tiles, x8, --compare)."""
import cv2
import numpy as np
import pytest
import torch


def _checkpoint(rdn, folder, preset, scale=4, seed=0):
    """A checkpoint in this repository's format for a network with non-trivial weights."""
    torch.manual_seed(seed)
    model = rdn.rdn.build_rdn(preset, scale)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'rdn-1_10.pth'
    torch.save({'model': model.state_dict(), 'arch': dict(rdn.rdn.PRESETS[preset], upscale=scale), 'preset': preset},
               path)
    return path, model.eval()


@pytest.fixture(scope='module')
def ckpts(rdn, tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpts')
    return {preset: _checkpoint(rdn, root / preset, preset) for preset in ('bench', 'reference')}


@pytest.mark.parametrize('preset', ['bench', 'reference'])
def test_onnx_export_with_dynamic_size_matches_pytorch(rdn, ckpts, tmp_path, capsys, preset):
    import onnxruntime as ort
    path, model = ckpts[preset]
    rdn.export.main(['--model', str(path.parent), '--file_name', str(tmp_path / 'rdn'), '--image_height', '16',
                     '--image_width', '20'])
    assert 'onnxruntime parity: max |diff|' in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / 'rdn.onnx'), providers=['CPUExecutionProvider'])
    channels = model.SFF1.in_channels
    x = np.random.default_rng(5).random((1, channels, 13, 29), dtype=np.float32)
    got = session.run(['sr'], {'lr': x})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert got.shape == (1, channels, 52, 116) and float(np.max(np.abs(got - ref))) <= 1e-4


def test_export_refuses_and_writes_nothing_when_parity_fails(rdn, ckpts, tmp_path):
    with pytest.raises(ValueError, match=r'onnxruntime differs from PyTorch by .* not written'):
        rdn.export.main(['--model', str(ckpts['bench'][0]), '--file_name', str(tmp_path / 'x'), '--tolerance=-1'])
    assert list(tmp_path.iterdir()) == []


def test_inference_on_a_file_and_a_folder(rdn, ckpts, tiny_data, tmp_path, capsys):
    folder = tiny_data.ref / 'test'
    image = sorted(folder.iterdir())[0]
    out = tmp_path / 'one.png'
    rdn.inference.main(['--input_image', str(image), '--model', str(ckpts['bench'][0]), '--output_filename', str(out)])
    lr = cv2.imread(str(image))
    assert cv2.imread(str(out)).shape == (4 * lr.shape[0], 4 * lr.shape[1], 3)
    with pytest.raises(FileExistsError, match='exists; pass --overwrite'):
        rdn.inference.main(['--input_image', str(image), '--model', str(ckpts['bench'][0]), '--output_filename', str(out)])
    rdn.inference.main(['--input_image', str(folder), '--model', str(ckpts['reference'][0].parent),
                        '--output_filename', str(tmp_path / 'all'), '--compare'])
    printed = capsys.readouterr().out
    names = sorted(p.name for p in (tmp_path / 'all').iterdir())
    assert len(names) == 4 and sum(n.endswith('_compare_x4.png') for n in names) == 2
    assert 'mean of 2: bicubic' in printed and '[Y (BT.601, unrounded), crop=4, SSIM Wang04 11x11 g1.5]' in printed


def test_tiles_and_self_ensemble(rdn, ckpts, tiny_data):
    _, model = ckpts['reference']
    lr = cv2.imread(str(sorted((tiny_data.ref / 'test').iterdir())[1]))
    _, whole = rdn.utils.super_resolve(model, lr, 4)
    _, tiled = rdn.utils.super_resolve(model, lr, 4, tile=24, overlap=16)
    # the reference network sees 14 LR pixels from the centre; tiles keep >= overlap / 2 = 8: close, not equal
    assert np.abs(tiled - whole).max() < 0.05 and np.abs(tiled - whole).mean() < 1e-3
    _, tiled_wide = rdn.utils.super_resolve(model, lr, 4, tile=40, overlap=32)
    np.testing.assert_allclose(tiled_wide, whole, atol=1e-5)                   # >= 16 px from every inner edge
    sr8, out8 = rdn.utils.super_resolve(model, lr, 4, self_ensemble=True)
    assert out8.shape == whole.shape and not np.allclose(out8, whole) and sr8.dtype == np.uint8


def test_bad_input(rdn, ckpts, tiny_data, tmp_path):
    corrupt = tmp_path / 'in'
    corrupt.mkdir()
    cv2.imwrite(str(corrupt / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    (corrupt / 'b.png').write_bytes(b'not an image')
    with pytest.raises(ValueError, match='b.png: cannot decode image'):
        rdn.inference.main(['--input_image', str(corrupt), '--model', str(ckpts['bench'][0]),
                            '--output_filename', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists() and not any(p.name.startswith('.out') for p in tmp_path.iterdir())
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'')
    with pytest.raises(ValueError, match='bad.pth: empty checkpoint file'):
        rdn.inference.main(['--input_image', str(corrupt / 'a.png'), '--model', str(bad)])
    bad.write_bytes(torch.load.__doc__.encode()[:300])
    with pytest.raises(ValueError, match='bad.pth: not a readable PyTorch checkpoint'):
        rdn.export.main(['--model', str(bad), '--file_name', str(tmp_path / 'e')])
    with pytest.raises(FileNotFoundError, match='no checkpoint in this folder'):
        rdn.inference.main(['--input_image', str(corrupt / 'a.png'), '--model', str(tmp_path / 'in')])
    with pytest.raises(FileNotFoundError, match='--input_image=.*missing.png: no such file or folder'):
        rdn.inference.main(['--input_image', str(tmp_path / 'missing.png'), '--model', str(ckpts['bench'][0])])
    assert not (tmp_path / 'e.onnx').exists()
