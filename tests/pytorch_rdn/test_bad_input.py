"""Bad input for RDN's entry points, one test per class of defect: training images smaller than the patch
are found before the first step, a DataLoader worker's error keeps its reason, a run folder inside a
data folder is refused, an inference output that is, contains or lies inside its input is refused even
with --overwrite, export names the opsets it supports, abbreviated flags are refused. Each refusal is
one ``error:`` line, exit 2, and nothing written.
"""
import os
import re
import shutil
import subprocess
import sys

import cv2
import pytest
import torch

from tests.pytorch_rdn.conftest import RDN_DIR


def _cli(script, argv, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, str(RDN_DIR / script), *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _refused(main, argv, capsys):
    """Run ``main`` as the command line does; returns its one error line (asserting exit 2, one line)."""
    from torchzoo.cli import run_cli
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1, lines
    return lines[0]


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob('*'))


def _train_flags(fast_flags, data, out):
    return [f for f in fast_flags if not f.startswith('--datapath')] + [f'--datapath={data}', f'--output_path={out}']


def test_every_training_image_is_checked_against_the_patch_before_the_first_step(rdn, fast_flags, tiny_data,
                                                                                   tmp_path, capsys):
    data = tmp_path / 'data'
    shutil.copytree(tiny_data.ref, data)
    small = data / 'train' / '0002_small.png'       # image 2 of 4: in the first batch, not the sample read first
    cv2.imwrite(str(small), cv2.imread(str(data / 'train' / '0001.png'))[:20, :28])
    line = _refused(rdn.train.main, _train_flags(fast_flags, data, tmp_path / 'out') + ['--max_steps=4'], capsys)
    assert line == (f'error: {small}: 20x28 pixels (LR 5x7 at x4) is smaller than the patch --patch_size=32 '
                    f'(LR 8x8); lower --patch_size or remove the image')
    assert not (tmp_path / 'out').exists()


def test_a_dataloader_workers_error_keeps_its_reason(fast_flags, tiny_data, tmp_path):
    data = tmp_path / 'data'
    shutil.copytree(tiny_data.ref, data)
    broken = data / 'train' / '0002b.png'          # image 2 of 4: in the first batch, not the sample read first
    full = (data / 'train' / '0001.png').read_bytes()
    broken.write_bytes(full[:200])                 # a whole header, then nothing: the size reads, the pixels not
    flags = [f for f in _train_flags(fast_flags, data, tmp_path / 'out') if f != '--threads=0']
    proc = _cli('train.py', flags + ['--threads=1', '--max_steps=2', '--save_checkpoint_steps=0'], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith('[ WARN')]   # OpenCV's libpng note
    assert lines == [
        f'error: {broken}: cannot decode image (corrupt, truncated or unsupported format) '
        f'(in DataLoader worker process 0)']


def test_a_run_folder_inside_a_data_folder_is_refused(rdn, fast_flags, tiny_data, tmp_path, capsys):
    data = tmp_path / 'data'
    shutil.copytree(tiny_data.ref, data)
    before = _tree(data)
    for out, inside, flag in ((data / 'train', data / 'train', '--datapath'),
                              (data / 'train' / 'run1', data / 'train', '--datapath'),
                              (data / 'test' / 'run1', data / 'test', '--datapath'),
                              (tiny_data.set5 / 'run1', tiny_data.set5, '--test_path'),
                              (data, data, '--datapath'), (data / 'runs' / 'run1', data, '--datapath')):
        extra = [f'--test_path={tiny_data.set5}'] if flag == '--test_path' else []
        line = _refused(rdn.train.main, _train_flags(fast_flags, data, out) + extra + ['--max_steps=1'], capsys)
        relation = 'is' if out == inside else 'lies inside'
        assert line == (f'error: --output_path={out} {relation} {flag}={inside}; choose an output outside the source')
        assert _tree(data) == before and not (tiny_data.set5 / 'run1').exists()
    beside = tmp_path / 'out'                      # beside the data: trains
    rdn.train.main(_train_flags(fast_flags, data, beside) + ['--max_steps=1'])
    assert (beside / 'ckpt' / 'RDN').is_dir() and _tree(data) == before


def test_a_refused_resume_leaves_no_run_folder(rdn, fast_flags, tiny_data, tmp_path, capsys):
    out = tmp_path / 'new' / 'run'
    line = _refused(rdn.train.main, _train_flags(fast_flags, tiny_data.ref, out) + ['--resume'], capsys)
    assert 'no checkpoint' in line and not (tmp_path / 'new').exists()


@pytest.fixture(scope='module')
def checkpoint(rdn, tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'rdn-1_1.pth'
    torch.save({'model': rdn.rdn.build_rdn('bench', 2).state_dict(),
                'arch': dict(rdn.rdn.PRESETS['bench'], upscale=2), 'preset': 'bench'}, path)
    return path


def test_an_inference_output_on_its_input_is_refused_even_with_overwrite(rdn, tiny_data, checkpoint, tmp_path,
                                                                        capsys):
    folder = tmp_path / 'images'
    shutil.copytree(tiny_data.ref / 'test', folder)
    image = sorted(folder.iterdir())[0]
    before = _tree(tmp_path)
    cases = [(image, image, 'is'), (folder, folder, 'is'), (folder / 'sr', folder, 'lies inside'),
             (tmp_path, folder, 'contains')]
    for out, src, relation in cases:
        for overwrite in ([], ['--overwrite']):
            line = _refused(rdn.inference.main, ['--input_image', str(src), '--model', str(checkpoint),
                                                 '--output_filename', str(out), *overwrite], capsys)
            assert line == (f'error: --output_filename={out} {relation} --input_image={src}; '
                            f'choose an output outside the source')
            assert _tree(tmp_path) == before
    rdn.inference.main(['--input_image', str(image), '--model', str(checkpoint)])   # beside the input is fine
    assert (folder / f'{image.stem}_rdn_x2.png').is_file()


def test_a_y_pipeline_flag_for_an_rgb_network_is_refused(rdn, tiny_data, checkpoint, tmp_path, capsys):
    image = sorted((tiny_data.ref / 'test').iterdir())[0]
    for flags in (['--ycbcr=pil'], ['--truncate_y']):
        line = _refused(rdn.inference.main, ['--input_image', str(image), '--model', str(checkpoint), *flags,
                                             '--output_filename', str(tmp_path / 'y.png')], capsys)
        assert line.startswith(f'error: {flags[0].split("=")[0]}'), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('opset', [1, 99])
def test_export_refuses_an_opset_outside_the_supported_range(rdn, checkpoint, tmp_path, capsys, opset):
    line = _refused(rdn.export.main, ['--model', str(checkpoint), '--opset', str(opset), '--file_name',
                                      str(tmp_path / 'x')], capsys)
    assert re.fullmatch(rf'error: --opset={opset}: torch {re.escape(torch.__version__)} exports ONNX opsets '
                        r'([0-9]+) to ([0-9]+)', line), line
    assert list(tmp_path.iterdir()) == []


def test_export_errors_name_the_users_path(rdn, checkpoint, tmp_path, capsys):
    (tmp_path / 'x.onnx').mkdir()
    line = _refused(rdn.export.main, ['--model', str(checkpoint), '--file_name', str(tmp_path / 'x'), '--overwrite'],
                    capsys)
    assert line == f'error: --file_name: {tmp_path / "x.onnx"} is a folder, expected a file name'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['x.onnx'] and not any((tmp_path / 'x.onnx').iterdir())


def test_export_beside_or_on_the_checkpoint_is_refused(rdn, checkpoint, capsys):
    folder, before = checkpoint.parent, sorted(checkpoint.parent.iterdir())
    for model, name, relation in ((folder, folder / 'x', 'lies inside'), (checkpoint, checkpoint, 'is'),
                                  (folder, folder, 'is')):
        line = _refused(rdn.export.main, ['--model', str(model), '--file_name', str(name), '--overwrite'], capsys)
        assert line.startswith('error: --file_name=') and f'{relation} --model={model}' in line, line
    assert sorted(folder.iterdir()) == before


def test_abbreviated_flags_are_refused_on_every_parser(rdn, capsys):
    """argparse's prefix matching is off: a flag cut short is an error, not the flag it starts."""
    cases = [(rdn.train.build_parser(), ['--upscale_facto=2']),
             (rdn.train.build_parser(npu_script=True), ['--datapat=x']),
             (rdn.inference.build_parser(), ['--input_image=a.png', '--model=m', '--output_filenam=b.png']),
             (rdn.export.build_parser(), ['--model=m', '--opse=17'])]
    for parser, argv in cases:
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert f'unrecognized arguments: {argv[-1]}' in capsys.readouterr().err, parser.prog
    from torchzoo import dist
    with pytest.raises(SystemExit):
        dist._main(['--master_por=1234'])
    assert 'unrecognized arguments: --master_por=1234' in capsys.readouterr().err
