"""tools.zoo: for every model, ``infer`` gives the pixels of the model's own documented command on the same
checkpoint and photo; ``eval`` scores by the published protocol; ``list``; bad input is one line.

This group's interpreter imports no framework: the tiny checkpoints (random weights of small networks,
seeded, saved in each model's own format) are made in child processes, one per model, and every command
runs as a child process, as a user types it.
"""
import numpy as np
import pytest

from common import paths
from common.imgio import read_image, write_image
from common.metrics import calculate_psnr, calculate_ssim, protocol
from tests.tools.tiny_checkpoints import PY, ok, run, srcnn_command, tf_command, tf_shapes, torch_command
from tests.tools.tiny_checkpoints import run_all as both     # the documented command beside tools.zoo
from tools import zoo

ROOT = paths.REPO_ROOT


def zoo_infer(model, checkpoint, photo, out, *more):
    return [PY, '-m', 'tools.zoo', 'infer', '--model', model, '--checkpoint', checkpoint, '--input', photo,
            '--output', out, *more]


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    """A 40x48 crop of a real photo (the held-out sample set's chelsea at x2 LR), in a folder of its own."""
    from common.sample_data import ensure_sample_data
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    src = paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest' / 'LR_bicubic' / 'x2' / 'chelsea_LRBI_x2.png'
    folder = tmp_path_factory.mktemp('photo') / 'in'
    path = folder / 'photo.png'
    write_image(path, np.ascontiguousarray(read_image(src)[20:60, 30:78]))
    return path


@pytest.fixture(scope='module')
def torch_checkpoints(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('torch_ckpt')
    ok(run(*torch_command(tmp / 'rdn_x3.pth', 3, tmp / 'net_g.pth')))
    return {'rdn': tmp / 'rdn_x3.pth', 'lptn': tmp / 'net_g.pth'}


@pytest.fixture(scope='module')
def tf_checkpoints(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tf_ckpt')
    prefixes = {'rcan': tmp / 'rcan' / 'tiny-1', 'bsrn': tmp / 'bsrn' / 'model.ckpt-1'}
    shapes = tf_shapes(ok(run(*tf_command(prefixes['rcan'], 3, prefixes['bsrn'], (2, 3)))))
    return prefixes, dict(zip(prefixes, shapes))


def _pair(direct, zoo_done, zoo_out):
    """(the documented command's pixels, tools.zoo's pixels, tools.zoo's stdout)."""
    return read_image(direct), read_image(zoo_out), zoo_done.stdout


@pytest.fixture(scope='module')
def rdn(photo, torch_checkpoints, tmp_path_factory):
    tmp, ckpt = tmp_path_factory.mktemp('rdn'), torch_checkpoints['rdn']
    _, done = both(([PY, 'pytorch/rdn/inference.py', '--input_image', photo, '--model', ckpt,
                     '--output_filename', tmp / 'direct.png'], ROOT),
                   (zoo_infer('rdn', ckpt, photo, tmp / 'zoo.png'), ROOT))
    return ckpt, _pair(tmp / 'direct.png', done, tmp / 'zoo.png')


@pytest.fixture(scope='module')
def lptn(photo, torch_checkpoints, tmp_path_factory):
    tmp, ckpt = tmp_path_factory.mktemp('lptn'), torch_checkpoints['lptn']
    _, done = both(([PY, 'test.py', '-opt', 'options/test/LPTN/test_FiveK.yml', '--root', tmp / 'direct',
                     '--force_yml', 'num_gpu=0', f'path.pretrain_network_g={ckpt}',
                     f'datasets.test.dataroot_lq={photo.parent}', f'datasets.test.dataroot_gt={photo.parent}',
                     'datasets.test.io_backend.type=disk'], ROOT / 'pytorch' / 'lptn'),
                   (zoo_infer('lptn', ckpt, photo, tmp / 'zoo.png'), ROOT))
    strip = tmp / 'direct' / 'results' / 'LPTN_FiveK_480p' / 'visualization' / 'FiveK_val' / 'photo_LPTN_FiveK_480p.png'
    w = read_image(photo).shape[1]
    write_image(tmp / 'direct.png', np.ascontiguousarray(read_image(strip)[:, w:2 * w]))   # input | result | target
    return ckpt, _pair(tmp / 'direct.png', done, tmp / 'zoo.png')


@pytest.fixture(scope='module')
def rcan(photo, tf_checkpoints, tmp_path_factory):
    tmp, prefix = tmp_path_factory.mktemp('rcan'), tf_checkpoints[0]['rcan']
    _, done = both(([PY, 'tensorflow/rcan/main.py', '--mode', 'test_only', '--pre_trained_model', prefix,
                     '--test_LR_path', photo.parent, '--scale', '3', '--n_feats', '8', '--n_RG', '2', '--n_RCAB', '1',
                     '--ratio', '4', '--result_path', tmp / 'direct'], ROOT),
                   (zoo_infer('rcan', prefix, photo, tmp / 'zoo.png'), ROOT))
    return prefix, _pair(tmp / 'direct' / 'photoX3.png', done, tmp / 'zoo.png')


@pytest.fixture(scope='module')
def bsrn(photo, tf_checkpoints, tmp_path_factory):
    tmp, prefix = tmp_path_factory.mktemp('bsrn'), tf_checkpoints[0]['bsrn']
    # no arguments.json beside this checkpoint: the recursions go after '--'; the scale is the largest held
    _, done = both(([PY, 'tensorflow/bsrn/test_bsrn.py', f'--restore_path={prefix}', '--scales', '3',
                     '--input_path', photo.parent, '--output_path', tmp / 'direct', '--bsrn_conv_features=8',
                     '--bsrn_state_features=4', '--bsrn_recursions=2'], ROOT),
                   (zoo_infer('bsrn', prefix, photo, tmp / 'zoo.png', '--', '--bsrn_recursions=2',
                              '--bsrn_recursion_frequency=1'), ROOT))
    return prefix, _pair(tmp / 'direct' / 'x3' / 'photo.png', done, tmp / 'zoo.png')


@pytest.fixture(scope='module')
def srcnn(photo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('srcnn')
    ckpt = tmp / 'srcnn.ckpt'
    ok(run(*srcnn_command(ckpt)))
    _, done = both(([PY, 'mindspore/srcnn/test.py', f'--data_path={photo}', f'--checkpoint_path={ckpt}',
                     '--device_target=CPU', f'--result_path={tmp / "direct"}'], ROOT),
                   (zoo_infer('srcnn', ckpt, photo, tmp / 'zoo.png'), ROOT))
    return ckpt, _pair(tmp / 'direct' / 'photo_srcnn_x2.png', done, tmp / 'zoo.png')


@pytest.mark.parametrize('model, scale', [('rdn', 3), ('lptn', 1), ('rcan', 3), ('bsrn', 3), ('srcnn', 2)])
def test_infer_gives_the_documented_commands_pixels(request, photo, model, scale):
    _, (direct, ours, stdout) = request.getfixturevalue(model)
    lr = read_image(photo)
    assert direct.shape == (lr.shape[0] * scale, lr.shape[1] * scale, 3)
    assert np.array_equal(direct, ours)
    assert f'{zoo.MODELS[model].script.rsplit("/", 1)[1]} ' in stdout       # the command it ran is shown


def test_infer_reads_the_architecture_from_the_shapes(rcan, bsrn, tf_checkpoints):
    assert '--n_feats=8 --n_RG=2 --n_RCAB=1 --kernel_size=3 --ratio=4' in rcan[1][2]
    assert '--bsrn_conv_features=8 --bsrn_state_features=4' in bsrn[1][2]
    assert 'notice' not in bsrn[1][2]                                      # the recursions were given after '--'
    prefixes, shapes = tf_checkpoints
    for model, prefix in prefixes.items():               # the index read without TensorFlow, as TensorFlow reads it
        assert zoo.index_shapes(prefix) == shapes[model]
        assert zoo.tf_checkpoint(prefix.parent) == (str(prefix), shapes[model])     # a folder: its newest


def test_rcan_arch_from_shapes_at_every_scale():
    base = {'conv_SF/filter': [3, 3, 3, 64], 'RG00_00_RCAB_conv1/filter': [3, 3, 64, 64],
            'RG00_01_RCAB_conv1/filter': [3, 3, 64, 64], 'RG00_00_RCAB_CA_conv1/filter': [1, 1, 64, 4],
            'RG00_conv_last/filter': [3, 3, 64, 64], 'RG01_conv_last/filter': [3, 3, 64, 64]}
    for ups, scale in ((['up_sample_conv00'], 2), (['up_sample_conv'], 3), (['up_sample_conv00', 'up_sample_conv01'], 4)):
        arch = zoo.rcan_arch(dict(base, **{f'{u}/filter': [3, 3, 64, 256] for u in ups}))
        assert arch == {'scale': scale, 'n_feats': 64, 'n_RG': 2, 'n_RCAB': 2, 'kernel_size': 3, 'ratio': 16}
    with pytest.raises(ValueError, match='not an RCAN checkpoint'):
        zoo.rcan_arch({'generator/first_conv/conv2d/kernel': [3, 3, 3, 8]})


def test_bsrn_recursions_from_the_training_record(tmp_path):
    (tmp_path / 'arguments.json').write_text('{"bsrn_recursions": 4, "bsrn_recursion_frequency": 4, "seed": 1}')
    assert zoo.bsrn_run_flags(tmp_path / 'model.ckpt-6600') == {'bsrn_recursions': 4, 'bsrn_recursion_frequency': 4}
    assert zoo.bsrn_run_flags(tmp_path / 'elsewhere' / 'model.ckpt-1') == {}


def test_eval_scores_the_infer_results_by_the_protocol(rdn, tmp_path):
    ckpt, _ = rdn
    data = tmp_path / 'Set5'
    src = paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest'
    names = []
    for path in sorted((src / 'HR' / 'x3').glob('*.png'))[:2]:
        name = path.name.replace('_HR_x3', '')
        names.append(name[:-4])
        hr = read_image(path)[:60, :72]
        lr = read_image(src / 'LR_bicubic' / 'x3' / path.name.replace('_HR_', '_LRBI_'))[:20, :24]
        write_image(data / 'HR' / 'x3' / path.name, np.ascontiguousarray(hr))
        write_image(data / 'LR_bicubic' / 'x3' / path.name.replace('_HR_', '_LRBI_'), np.ascontiguousarray(lr))
    sr = tmp_path / 'sr'                     # the documented command on the LR folder, scored here
    done, _ = both(([PY, '-m', 'tools.zoo', 'eval', '--model', 'rdn', '--checkpoint', ckpt, '--data', data], ROOT),
                   ([PY, 'pytorch/rdn/inference.py', '--input_image', data / 'LR_bicubic' / 'x3', '--model', ckpt,
                     '--output_filename', sr], ROOT))
    lines = done.stdout.splitlines()
    assert lines[-1] == f"protocol: {protocol(3)['label']}"
    table = {ln.split()[0]: ln.split()[1:] for ln in lines if ln.split() and ln.split()[0] in names + ['mean']}
    psnrs = []
    for name in names:
        out = read_image(next(sr.glob(f'{name}_*')))
        hr = read_image(next((data / 'HR' / 'x3').glob(f'{name}_*')))
        psnr = calculate_psnr(out, hr, 3, test_y_channel=True)
        assert float(table[name][0]) == pytest.approx(psnr, abs=1e-6)
        assert float(table[name][1]) == pytest.approx(calculate_ssim(out, hr, 3, test_y_channel=True), abs=1e-6)
        psnrs.append(psnr)
    assert float(table['mean'][0]) == pytest.approx(np.mean(psnrs), abs=1e-6)


def test_list_names_every_model_and_the_bench_checkpoints(tmp_path):
    rdn = tmp_path / 'rdn_bench' / 'train' / 'ckpt' / 'RDN'
    rdn.mkdir(parents=True)
    for name in ('rdn-1_400.pth', 'rdn-2_700.pth'):
        (rdn / name).write_bytes(b'x')
    rcan = tmp_path / 'rcan_bench' / 'model'
    rcan.mkdir(parents=True)
    (rcan / 'RCAN_X2_32_3_3-4400.index').write_bytes(b'x')
    (rcan / 'checkpoint').write_text('model_checkpoint_path: "RCAN_X2_32_3_3-4400"\n')
    found = {label: path for _, _, _, label, path in zoo.bench_checkpoints(tmp_path)}
    assert found['rdn'] == rdn / 'rdn-2_700.pth'
    assert found['rcan'] == rcan / 'RCAN_X2_32_3_3-4400'
    assert found['srcnn'] is None and found['bsrn'] is None and found['lptn (unpaired)'] is None
    done = ok(run([PY, '-m', 'tools.zoo', 'list', '--outputs', tmp_path]))
    rows = {ln.split()[0]: ln for ln in done.stdout.splitlines() if ln.split()}
    for name, framework in (('srcnn', 'mindspore'), ('rdn', 'pytorch'), ('lptn', 'pytorch'), ('rcan', 'tensorflow'),
                            ('bsrn', 'tensorflow')):
        assert framework in rows[name]
    assert str(rdn / 'rdn-2_700.pth') in rows['rdn'] and 'not present' in rows['srcnn']
    assert '2, 3, 4, 8' in rows['bsrn']


def _bad(argv, tmp_path):
    out = tmp_path / 'out.png'
    done = run([PY, '-m', 'tools.zoo', *argv])
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith('error: '), done.stderr
    assert not out.exists() and done.stdout == ''
    return done.stderr.strip()


def test_bad_input_is_one_line_naming_the_flag(photo, tmp_path):
    out = str(tmp_path / 'out.png')
    line = _bad(['infer', '--model', 'rcnn', '--checkpoint', str(photo), '--input', str(photo), '--output', out], tmp_path)
    assert '--model' in line and "'rcnn'" in line and 'rcan' in line
    line = _bad(['infer', '--model', 'rdn', '--checkpoint', str(photo), '--input', str(tmp_path / 'nope.png'),
                 '--output', out], tmp_path)
    assert line.startswith('error: --input=') and 'no such file' in line
    line = _bad(['infer', '--model', 'rdn', '--check', str(photo), '--input', str(photo), '--output', out], tmp_path)
    assert '--check' in line                                        # no prefix matching
    line = _bad(['infer', '--model', 'lptn', '--checkpoint', str(photo), '--input', str(photo), '--output', out,
                 '--scale', '2'], tmp_path)
    assert line.startswith('error: --scale=2')
    line = _bad(['infer', '--model', 'rdn', '--checkpoint', str(photo), '--input', str(photo), '--output', out,
                 '--', '--output_filename=x.png'], tmp_path)
    assert '--output_filename' in line


def test_the_entry_points_refusal_is_the_one_line(photo, tf_checkpoints, tmp_path):
    line = _bad(['infer', '--model', 'rcan', '--checkpoint', str(tf_checkpoints[0]['rcan']), '--input', str(photo),
                 '--output', str(tmp_path / 'out.png'), '--', '--self_ensemble=maybe'], tmp_path)
    assert line == "error: argument --self_ensemble: expected True or False, got 'maybe'"      # main.py's own line
