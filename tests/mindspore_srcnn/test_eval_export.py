"""eval.py, test.py, export.py (MINDIR, ONNX) and eval_onnx.py against the eager network."""
import numpy as np
import pytest

from common.imgio import read_image
from common.metrics import calculate_psnr


@pytest.fixture(scope='module')
def eager(srcnn, random_checkpoint):
    """predict(Y) of the random network, in PyNative mode."""
    import mindspore as ms
    ms.set_context(mode=ms.PYNATIVE_MODE)
    return srcnn.utils.ms_predictor(random_checkpoint[1])


def test_eval_on_a_tiny_folder(srcnn, tiny_images, random_checkpoint, eager, run_main, capsys):
    headline = run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0]})
    out = capsys.readouterr().out
    assert "result  {'PSNR': " in out
    assert 'standard  [Y (BT.601, unrounded), crop=2, SSIM Wang04 11x11 g1.5; SR clamped and rounded to uint8]' in out
    assert 'reference [reference (no shave, unclamped)' in out
    # The headline equals an independent computation: same pipeline, common.metrics on the uint8 SR image.
    psnrs = []
    for path in sorted(tiny_images.glob('*.png')):
        pair = srcnn.utils.prepare_pair(read_image(path), 2)
        sr = srcnn.utils.compose_sr(eager(pair['y_in']), pair['up'])
        psnrs.append(calculate_psnr(sr, pair['hr'], crop_border=2, test_y_channel=True))
    assert headline['PSNR'] == pytest.approx(np.mean(psnrs), abs=1e-9)
    ref = run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0],
                                'metric': 'reference'})
    assert set(ref) == {'PSNR'} and ref['PSNR'] != pytest.approx(headline['PSNR'])


def test_eval_accepts_a_set5_layout_with_given_lr(srcnn, shared_data, random_checkpoint, run_main, capsys):
    set5 = shared_data / 'Set5'
    run_main(srcnn.eval, {'data_path': set5, 'lr_path': set5 / 'LR_bicubic' / 'x2',
                          'checkpoint_path': random_checkpoint[0]})
    out = capsys.readouterr().out
    assert '5 images, LR from' in out and out.count('\nbaby ') == 1


def test_test_py_writes_upscaled_pictures(srcnn, tiny_images, random_checkpoint, tmp_path, run_main):
    written = run_main(srcnn.test, {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0],
                                    'result_path': tmp_path})
    assert len(written) == 2
    src = sorted(tiny_images.glob('*.png'))[0]
    out = read_image(tmp_path / f'{src.stem}_srcnn_x2.png')
    assert out.shape[:2] == tuple(2 * s for s in read_image(src).shape[:2])


@pytest.mark.parametrize('fmt', ['MINDIR', 'ONNX'])
def test_export_matches_the_eager_network(srcnn, random_checkpoint, eager, tmp_path, run_main, fmt):
    import mindspore as ms
    name = tmp_path / 'sub' / 'my_srcnn'
    out = run_main(srcnn.export, {'checkpoint_path': random_checkpoint[0], 'file_format': fmt,
                                  'file_name': name, 'image_height': 40, 'image_width': 56})
    assert out == name.with_suffix('.' + fmt.lower()) and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == [out.name]          # no temporary files left
    y = np.random.default_rng(0).random((40, 56), dtype=np.float32)
    if fmt == 'ONNX':
        session = srcnn.eval_onnx.onnx_session(out)
        assert session.get_inputs()[0].shape == [1, 1, 40, 56]               # N, C, H, W (H/W not swapped)
        got = session.run(None, {session.get_inputs()[0].name: y[None, None]})[0][0, 0]
    else:
        got = ms.nn.GraphCell(ms.load(str(out)))(ms.Tensor(y[None, None])).asnumpy()[0, 0]
    np.testing.assert_allclose(got, eager(y), atol=1e-5)


def test_export_refuses_air_without_ascend(srcnn, random_checkpoint, tmp_path, run_main):
    with pytest.raises(ValueError, match='AIR needs an Ascend device; this run is on CPU'):
        run_main(srcnn.export, {'checkpoint_path': random_checkpoint[0], 'file_format': 'AIR',
                                'file_name': tmp_path / 'x'})
    assert list(tmp_path.iterdir()) == []


def test_eval_onnx_agrees_with_eval(srcnn, random_checkpoint, tiny_images, tmp_path, run_main, capsys):
    # 48x64 static shape: the 70x90 image is tiled, the 66x82 one too; results equal eval.py's closely.
    onnx = run_main(srcnn.export, {'checkpoint_path': random_checkpoint[0], 'file_format': 'ONNX',
                                   'file_name': tmp_path / 'srcnn', 'image_height': 48, 'image_width': 64})
    capsys.readouterr()
    got = run_main(srcnn.eval_onnx, {'onnx_path': onnx, 'data_path': tiny_images})
    assert capsys.readouterr().out.rstrip().endswith(f"PSNR: {got['PSNR']:.4f}")
    want = run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0]})
    assert got['PSNR'] == pytest.approx(want['PSNR'], abs=0.05)


def test_eval_bad_inputs(srcnn, tiny_images, random_checkpoint, tmp_path, run_main):
    with pytest.raises(FileNotFoundError, match='--data_path=.*no such file or folder'):
        run_main(srcnn.eval, {'data_path': tmp_path / 'missing', 'checkpoint_path': random_checkpoint[0]})
    with pytest.raises(FileNotFoundError, match='--checkpoint_path=.*no such file'):
        run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': tmp_path / 'none.ckpt'})
    bad = tmp_path / 'bad.ckpt'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='not a readable MindSpore checkpoint'):
        run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': bad})
    with pytest.raises(ValueError, match="--metric must be 'standard' or 'reference'"):
        run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0], 'metric': 'x'})
    with pytest.raises(ValueError, match='--lr_path=.*1 images, but'):
        lr = tmp_path / 'lr'
        lr.mkdir()
        (lr / 'a.png').write_bytes((tiny_images / sorted(p.name for p in tiny_images.iterdir())[0]).read_bytes())
        run_main(srcnn.eval, {'data_path': tiny_images, 'lr_path': lr, 'checkpoint_path': random_checkpoint[0]})
