"""eval.py, test.py, export.py (MINDIR, ONNX) and eval_onnx.py against the eager network."""
import os
import stat

import cv2
import numpy as np
import pytest

from common.imgio import read_image
from common.imresize import imresize
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
    folder = tmp_path / 'with space'           # MindSpore itself refuses such paths
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    name = folder / 'my srcnn'
    out = run_main(srcnn.export, {'checkpoint_path': random_checkpoint[0], 'file_format': fmt,
                                  'file_name': name, 'image_height': 40, 'image_width': 56})
    assert out == name.with_name(f'my srcnn.{fmt.lower()}') and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == [out.name]          # no temporary files left
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755                 # ONNX export used to make it 0700
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
    # 48x64 static shape: the 70x90 image is tiled, the 66x82 one too; results equal eval.py's.
    onnx = run_main(srcnn.export, {'checkpoint_path': random_checkpoint[0], 'file_format': 'ONNX',
                                   'file_name': tmp_path / 'srcnn', 'image_height': 48, 'image_width': 64})
    capsys.readouterr()
    got = run_main(srcnn.eval_onnx, {'onnx_path': onnx, 'data_path': tiny_images})
    assert capsys.readouterr().out.rstrip().endswith(f"PSNR: {got['PSNR']:.4f}")
    want = run_main(srcnn.eval, {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0]})
    assert got['PSNR'] == pytest.approx(want['PSNR'], abs=1e-6)     # both images exceed 48x64: exact tiling


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
    with pytest.raises(ValueError, match=r'cannot pair --lr_path=.* by name at x2: .*no HR image for a\.png'):
        lr = tmp_path / 'lr'
        lr.mkdir()
        (lr / 'a.png').write_bytes((tiny_images / sorted(p.name for p in tiny_images.iterdir())[0]).read_bytes())
        run_main(srcnn.eval, {'data_path': tiny_images, 'lr_path': lr, 'checkpoint_path': random_checkpoint[0]})


def _lr_folder(tiny_images, folder, names):
    """Write the MATLAB bicubic LR of each tiny image under the given name ({stem: LR file name})."""
    folder.mkdir()
    for path in sorted(tiny_images.glob('*.png')):
        if path.stem in names:
            hr = read_image(path)
            hr = hr[:hr.shape[0] // 2 * 2, :hr.shape[1] // 2 * 2]
            cv2.imwrite(str(folder / names[path.stem]), imresize(hr, scale=0.5))
    return folder


def test_eval_pairs_lr_with_hr_by_name(srcnn, tiny_images, random_checkpoint, tmp_path, run_main, capsys):
    stems = sorted(p.stem for p in tiny_images.glob('*.png'))                 # <name>_HR_x2 (Set5 naming)
    names = {stems[0]: stems[0].replace('_HR_x2', '_LRBI_x2.png'), stems[1]: stems[1].replace('_HR_x2', '_LR_x2.png')}
    lr = _lr_folder(tiny_images, tmp_path / 'lr', names)
    args = {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0]}
    given = run_main(srcnn.eval, dict(args, lr_path=lr))
    made = run_main(srcnn.eval, args)
    assert given['PSNR'] == pytest.approx(made['PSNR'], abs=1e-9)          # the same LR, so the same result
    capsys.readouterr()


def test_pair_by_name_ignores_the_order_and_refuses_what_does_not_pair(srcnn, tmp_path):
    from pathlib import Path
    pair = srcnn.dataset.pair_by_name
    hr = [Path('baby_HR_x2.png'), Path('bird_HR_x2.png'), Path('head.png')]
    lr = [Path('head.png'), Path('bird_LR_x2.png'), Path('baby_LRBI_x2.png')]
    assert pair(hr, lr, 2, 'HR', 'LR') == [lr[2], lr[1], lr[0]]
    with pytest.raises(ValueError, match=r'cannot pair LR with HR by name at x2: bird_HR_x2\.png matches no LR '
                                         r'image; head\.png matches no LR image; no HR image for woman\.png'):
        pair(hr, [lr[2], Path('woman.png')], 2, 'HR', 'LR')
    with pytest.raises(ValueError, match=r'baby_HR_x2\.png matches baby_LRBI_x2\.png and baby_LR_x2\.png'):
        pair(hr[:1], [Path('baby_LRBI_x2.png'), Path('baby_LR_x2.png')], 2, 'HR', 'LR')
    with pytest.raises(ValueError, match=r'baby\.png and baby_HR_x2\.png both match baby_LR_x2\.png'):
        pair([Path('baby.png'), Path('baby_HR_x2.png')], [Path('baby_LR_x2.png')], 2, 'HR', 'LR')


def test_sixteen_bit_pictures_give_the_8_bit_result(srcnn, tiny_images, random_checkpoint, tmp_path, run_main):
    src = sorted(tiny_images.glob('*.png'))[0]
    img8 = cv2.imread(str(src))
    pics = tmp_path / 'pics'
    pics.mkdir()
    cv2.imwrite(str(pics / 'eight.png'), img8)
    cv2.imwrite(str(pics / 'sixteen.png'), img8.astype(np.uint16) * 257)    # the same picture in 16 bits
    assert read_image(pics / 'sixteen.png').dtype == np.uint16
    out = tmp_path / 'out'
    run_main(srcnn.test, {'data_path': pics, 'checkpoint_path': random_checkpoint[0], 'result_path': out})
    np.testing.assert_array_equal(read_image(out / 'sixteen_srcnn_x2.png'), read_image(out / 'eight_srcnn_x2.png'))
    assert read_image(out / 'sixteen_srcnn_x2.png').dtype == np.uint8
    # eval reads 16-bit HR images the same way
    hr16 = tmp_path / 'hr16'
    hr16.mkdir()
    cv2.imwrite(str(hr16 / src.name), img8.astype(np.uint16) * 257)
    hr8 = tmp_path / 'hr8'
    hr8.mkdir()
    cv2.imwrite(str(hr8 / src.name), img8)
    got = run_main(srcnn.eval, {'data_path': hr16, 'checkpoint_path': random_checkpoint[0]})
    assert got == run_main(srcnn.eval, {'data_path': hr8, 'checkpoint_path': random_checkpoint[0]})


def test_pictures_whose_outputs_would_collide_are_refused(srcnn, tiny_images, random_checkpoint, tmp_path, run_main):
    src = sorted(tiny_images.glob('*.png'))[0]
    pics = tmp_path / 'pics'
    pics.mkdir()
    cv2.imwrite(str(pics / 'img.png'), cv2.imread(str(src)))
    cv2.imwrite(str(pics / 'img.jpg'), cv2.imread(str(src)))
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=r"img\.jpg and img\.png \(both 'img'\)"):
        run_main(srcnn.test, {'data_path': pics, 'checkpoint_path': random_checkpoint[0], 'result_path': out})
    assert not out.exists()
    with pytest.raises(ValueError, match=r"--data_path=.*: files whose outputs would overwrite each other: "
                                         r"img\.jpg and img\.png"):
        run_main(srcnn.eval, {'data_path': pics, 'checkpoint_path': random_checkpoint[0]})


@pytest.mark.parametrize('size, want', [(0, 'empty file'), (200, 'not a readable MindSpore checkpoint')])
def test_a_bad_checkpoint_is_named(srcnn, random_checkpoint, tmp_path, size, want):
    bad = tmp_path / 'bad.ckpt'
    bad.write_bytes(random_checkpoint[0].read_bytes()[:size])                  # empty, or a truncated checkpoint
    with pytest.raises(ValueError, match=f'--checkpoint_path={bad}: {want}'):
        srcnn.utils.load_network(bad)


def test_export_refuses_unusable_file_names(srcnn, random_checkpoint, tmp_path, run_main):
    args = {'checkpoint_path': random_checkpoint[0]}
    with pytest.raises(ValueError, match=f'--file_name={tmp_path} names a folder'):
        run_main(srcnn.export, dict(args, file_name=tmp_path))
    (tmp_path / 'm.mindir').mkdir()
    with pytest.raises(ValueError, match='--file_name=.*m.mindir is a folder, expected a file name'):
        run_main(srcnn.export, dict(args, file_name=tmp_path / 'm'))
    blocker = tmp_path / 'plain'
    blocker.write_text('x')
    with pytest.raises(ValueError, match=f'--file_name=.*cannot create it, {blocker} is a file, not a folder'):
        run_main(srcnn.export, dict(args, file_name=blocker / 'sub' / 'srcnn'))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['m.mindir', 'plain']
