"""--mode test / test_only: the reference's result file with common.metrics values, SR images, the x8
self-ensemble and chopping (common.inference), checked on an identity-like network."""
import re

import cv2
import numpy as np
import pytest
import tensorflow as tf

from common.metrics import evaluate_pairs, protocol


def _test_argv(tiny_data, ckpt, **extra):
    args = {'mode': 'test', 'pre_trained_model': ckpt, 'test_LR_path': tiny_data / 'test_LR_bicubic' / 'X2',
            'test_GT_path': tiny_data / 'test_HR', 'scale': 2, 'n_feats': 16, 'n_RG': 1, 'n_RCAB': 2, 'ratio': 4,
            'intra_op_threads': 1}
    args.update(extra)
    return [f'--{k}={v}' for k, v in args.items()]


def test_test_mode_writes_the_result_file_with_the_protocol(rcan, trained, tiny_data, tmp_path, monkeypatch,
                                                            capsys):
    out, _, _ = trained
    monkeypatch.chdir(tmp_path)
    summary = rcan.main.main(_test_argv(tiny_data, out / 'model', save_test_result=True, result_path='sr',
                                        test_set='Tiny'))
    printed = capsys.readouterr().out
    assert 'saved model is loaded for test!' in printed and f"model path is {out / 'model'}" in printed
    assert 'metric protocol: Y (BT.601, unrounded), crop=2, SSIM Wang04 11x11 g1.5' in printed
    lines = (tmp_path / 'RCAN_X2_Tiny_result.txt').read_text().splitlines()
    assert len(lines) == 4 and lines[-1] == f"protocol : {protocol(2)['label']}"
    assert re.fullmatch(r'file name : 0005x2\.png PSNR : \d+\.\d{6} SSIM : 0\.\d{6} ', lines[0])
    assert re.fullmatch(r'Y_PSNR : \d+\.\d{4} SSIM : 0\.\d{4} ', lines[2])
    # the written SR images, scored independently, give the same numbers
    pairs = [(name, cv2.imread(str(tmp_path / 'sr' / f'{name[:-4]}X2.png')),
              cv2.imread(str(tiny_data / 'test_HR' / f'{name[:4]}.png'))) for name in ('0005x2.png', '0006x2.png')]
    expected = evaluate_pairs(pairs, crop_border=2)
    for row, want in zip(summary['rows'], expected):
        assert row['psnr'] == pytest.approx(want['psnr'], abs=1e-9)
        assert row['ssim'] == pytest.approx(want['ssim'], abs=1e-9)
    mean = np.mean([r['psnr'] for r in expected])
    assert lines[2].startswith(f'Y_PSNR : {mean:0.4f} ')


def test_test_only_writes_sr_images(rcan, trained, tiny_data, tmp_path, monkeypatch):
    out, _, _ = trained
    monkeypatch.chdir(tmp_path)
    rcan.main.main(_test_argv(tiny_data, out / 'model' / 'RCAN_X2_16_1_2-24', mode='test_only', result_path='only'))
    names = sorted(p.name for p in (tmp_path / 'only').iterdir())
    assert names == ['0005x2X2.png', '0006x2X2.png']
    assert cv2.imread(str(tmp_path / 'only' / names[0])).shape == (48, 60, 3)
    assert not list(tmp_path.glob('*_result.txt'))


def test_a_result_path_that_cannot_be_made_leaves_no_result_file(rcan, trained, tiny_data, tmp_path, monkeypatch,
                                                                capsys):
    from common.cli import run_cli
    out, _, _ = trained
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'a_file').write_bytes(b'')
    with pytest.raises(SystemExit) as done:
        run_cli(rcan.main.main, _test_argv(tiny_data, out / 'model', save_test_result=True, result_path='a_file/sub'))
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) == 1 and '--result_path=a_file/sub' in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a_file']          # no RCAN_X2_*_result.txt


@pytest.fixture(scope='module')
def identity_like(rcan, tiny_flags):
    """A tiny x2 RCAN whose weights make it nearest-neighbour upsampling (groups and tail skip are zero)."""
    args = rcan.main.build_parser().parse_args([f'--{k}={v}' for k, v in tiny_flags.items()])
    graph = tf.Graph()
    with graph.as_default():
        model = rcan.RCA_net.RCA_net(args).build_graph(training=False)
        sess = tf.compat.v1.Session(graph=graph)
        sess.run(tf.compat.v1.global_variables_initializer())
        f = args.n_feats
        for var in tf.compat.v1.trainable_variables():
            value = np.zeros(var.shape.as_list(), np.float32)
            name = var.op.name
            if name in ('conv_SF/filter', 'conv_rec/filter'):
                for c in range(3):
                    value[1, 1, c, c] = 1.0
            elif name == 'up_sample_conv00/filter':      # depth_to_space: channel (dy * 2 + dx) * f + c
                for c in range(3):
                    for sub in range(4):
                        value[1, 1, c, sub * f + c] = 1.0
            elif '_CA_' in name:
                value = np.ones_like(value)              # anything: the attention gates a zero residual
            var.load(value, sess)
    yield rcan.util.make_predictor(sess, model)
    sess.close()


def test_x8_self_ensemble_of_an_identity_like_network_equals_its_single_pass(rcan, identity_like):
    lr = np.random.default_rng(1).integers(0, 256, (9, 14, 3), dtype=np.uint8)
    single = rcan.util.super_resolve(identity_like, lr, 2)
    assert np.array_equal(single, lr.repeat(2, axis=0).repeat(2, axis=1))
    ensemble = rcan.util.super_resolve(identity_like, lr, 2, self_ensemble=True)
    assert ensemble.dtype == np.uint8 and np.array_equal(ensemble, single)
    chopped = rcan.util.super_resolve(identity_like, lr, 2, self_ensemble=True, chop_forward=True, chop_size=49,
                                      chop_shave=1)
    assert np.array_equal(chopped, single)


def test_chop_layout_follows_the_reference_flags(rcan):
    assert rcan.util.chop_layout(40000, 10) == (200, 20)
    with pytest.raises(ValueError, match=r'--chop_size=100 gives tiles of 10 px, no more than twice --chop_shave=5'):
        rcan.util.chop_layout(100, 5)


def test_sr_file_names_are_the_references(rcan):
    assert rcan.util.sr_file_name('baby.png', 2) == 'babyX2.png'
    assert rcan.util.sr_file_name('img.001.bmp', 4) == 'img.001X4.bmp'
