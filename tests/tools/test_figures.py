"""tools.figures (``make figures``): from a folder laid out as the benches leave ``outputs/``, the three PNGs with
their panel layout, each label the PSNR (common.metrics) of the image the model's own documented command writes,
the same bytes on a re-run, and one error line (nothing written) for a missing checkpoint.

This group's interpreter imports no framework: the tiny checkpoints (tests/tools/tiny_checkpoints.py, as for
tools.zoo's tests) are made in child processes, and every command runs as a child process.
"""
import json
import re
import shutil

import numpy as np
import pytest

from common import paths
from common.imgio import read_image
from common.imresize import imresize
from common.metrics import calculate_psnr
from common.sample_data import ensure_sample_data
from common.visual import compose
from tests.tools.tiny_checkpoints import PY, ROOT, run, run_all, srcnn_command, tf_command, torch_command
from tools import figures

HEADER = 22            # common.visual's label strip (and each caption line)
LPTN_TEST_YML = 'options/test/LPTN/test_FiveK.yml'


def bench_layout(outputs):
    """The checkpoint paths of ``make bench MODEL=<name>`` (tools.zoo.Model.bench) under ``outputs``."""
    lptn = outputs / 'lptn_bench' / 'experiments'
    return {'srcnn': outputs / 'srcnn_bench' / 'train' / 'ckpt_0' / 'srcnn-1_1.ckpt',
            'rdn': outputs / 'rdn_bench' / 'train' / 'ckpt' / 'RDN' / 'rdn-1_1.pth',
            'lptn (unpaired)': lptn / 'bench_unpaired' / 'models' / 'net_g_latest.pth',
            'lptn (paired)': lptn / 'bench_paired' / 'models' / 'net_g_latest.pth',
            'rcan': outputs / 'rcan_bench' / 'model' / 'RCAN_X2_8_2_1-1',
            'bsrn': outputs / 'bsrn_bench' / 'train' / 'model.ckpt-1'}


def figures_command(outputs, out):
    return [PY, '-m', 'tools.figures', '--outputs', outputs, '--out', out]


@pytest.fixture(scope='module')
def bench_outputs(tmp_path_factory):
    """A folder laid out as the benches leave outputs/, with tiny checkpoints: SRCNN, RDN x4, two LPTN
    generators, RCAN x2, BSRN of scales 2 and 4 (with the arguments.json its train.py writes)."""
    outputs = tmp_path_factory.mktemp('bench') / 'outputs'
    ckpt = bench_layout(outputs)
    run_all(srcnn_command(ckpt['srcnn']), torch_command(ckpt['rdn'], 4, ckpt['lptn (unpaired)'], ckpt['lptn (paired)']),
            tf_command(ckpt['rcan'], 2, ckpt['bsrn'], (2, 4)))
    record = {'bsrn_recursions': 2, 'bsrn_recursion_frequency': 1}          # what train.py writes beside them
    (ckpt['bsrn'].parent / 'arguments.json').write_text(json.dumps(record))
    return outputs, ckpt


@pytest.fixture(scope='module')
def rendered(bench_outputs, shared_data, tmp_path_factory):
    """Two runs of tools.figures on the same checkpoints and, beside them, each model's documented command on
    the same inputs. Returns (first run's folder, its stdout, second run's folder, {panel: the command's image})."""
    outputs, ckpt = bench_outputs
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    tmp = tmp_path_factory.mktemp('figures')
    set5 = shared_data / 'Set5'
    lr = {s: set5 / 'LR_bicubic' / f'x{s}' / f'{figures.SET5_IMAGE}_LRBI_x{s}.png' for s in (2, 4)}
    for s, path in lr.items():                          # the folders the scripts read: x2 alone, x2 and x4
        for folder in ([f'x{s}', 'both'] if s == 2 else ['both']):
            (tmp / 'lr' / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp / 'lr' / folder / path.name)
    fivek = paths.SAMPLE_DATA_DIR / 'FiveK' / 'FiveK_480p' / 'test'
    for side in ('A', 'B'):
        (tmp / 'fivek' / side).mkdir(parents=True)
        shutil.copyfile(fivek / side / f'{figures.LPTN_IMAGE}.jpg', tmp / 'fivek' / side / f'{figures.LPTN_IMAGE}.jpg')
    d = tmp / 'direct'
    lptn = [([PY, 'test.py', '-opt', LPTN_TEST_YML, '--root', d / name, '--force_yml', 'num_gpu=0',
              f'path.pretrain_network_g={ckpt[f"lptn ({name})"]}', f'datasets.test.dataroot_lq={tmp / "fivek" / "A"}',
              f'datasets.test.dataroot_gt={tmp / "fivek" / "B"}', 'datasets.test.io_backend.type=disk'],
             ROOT / 'pytorch' / 'lptn') for name in ('unpaired', 'paired')]
    first, second, *_ = run_all(
        (figures_command(outputs, tmp / 'first'), ROOT), (figures_command(outputs, tmp / 'second'), ROOT),
        ([PY, 'mindspore/srcnn/test.py', f'--data_path={lr[2]}', f'--checkpoint_path={ckpt["srcnn"]}',
          '--device_target=CPU', f'--result_path={d / "srcnn"}'], ROOT),
        ([PY, 'tensorflow/rcan/main.py', '--mode', 'test_only', '--pre_trained_model', ckpt['rcan'], '--test_LR_path',
          tmp / 'lr' / 'x2', '--scale', '2', '--n_feats', '8', '--n_RG', '2', '--n_RCAB', '1', '--ratio', '4',
          '--result_path', d / 'rcan'], ROOT),
        ([PY, 'tensorflow/bsrn/test_bsrn.py', f'--restore_path={ckpt["bsrn"]}', '--scales', '2,4', '--input_path',
          tmp / 'lr' / 'both', '--output_path', d / 'bsrn', '--bsrn_conv_features=8', '--bsrn_state_features=4',
          '--bsrn_recursions=2'], ROOT),
        ([PY, 'pytorch/rdn/inference.py', '--input_image', lr[4], '--model', ckpt['rdn'], '--output_filename',
          d / 'rdn.png'], ROOT),
        *lptn)
    w = read_image(fivek / 'A' / f'{figures.LPTN_IMAGE}.jpg').shape[1]
    strip = 'results/LPTN_FiveK_480p/visualization/FiveK_val/{}_LPTN_FiveK_480p.png'.format(figures.LPTN_IMAGE)
    direct = {('set5_x2.png', 'SRCNN'): read_image(d / 'srcnn' / f'{lr[2].stem}_srcnn_x2.png'),
              ('set5_x2.png', 'RCAN'): read_image(d / 'rcan' / f'{lr[2].stem}X2.png'),
              ('set5_x2.png', 'BSRN'): read_image(d / 'bsrn' / 'x2' / lr[2].name),
              ('set5_x4.png', 'RDN'): read_image(d / 'rdn.png'),
              ('set5_x4.png', 'BSRN'): read_image(d / 'bsrn' / 'x4' / lr[4].name),
              **{('lptn.png', name): read_image(d / name / strip)[:, w:2 * w] for name in ('unpaired', 'paired')}}
    return tmp / 'first', first.stdout, tmp / 'second', direct


def _layout(file):
    """(panel names, the reference's kind, (y, x, size), zoom) of one figure, as tools.figures declares it."""
    for name, scale, panels in figures.SR_FIGURES:
        if name == file:
            return ['bicubic'] + [p for p, _ in panels], 'HR', figures.SET5_BOX, figures.SET5_ZOOM
    return ['input'] + [p for p, _ in figures.LPTN_FIGURE[1]], 'target', figures.LPTN_BOX, figures.LPTN_ZOOM


def _printed_labels(stdout, file):
    """{panel name: (label text, PSNR)} that tools.figures printed under ``wrote .../<file>``."""
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith('wrote ') and f'/{file} ' in ln)
    labels = {}
    for line in lines[start + 1:]:
        match = re.fullmatch(r'  ((\S+) [\d.]+ dB \((?:Y|RGB)\)) \(PSNR ([\d.]+) dB\)', line)
        if not match:
            break
        labels[match.group(2)] = (match.group(1), float(match.group(3)))
    return labels


def test_the_three_pngs_have_the_panel_layout(rendered):
    first, stdout, _, _ = rendered
    assert sorted(p.name for p in first.iterdir()) == sorted(figures.FIGURES + (figures.MANIFEST,))
    assert figures.FIGURES == ('set5_x2.png', 'set5_x4.png', 'lptn.png')
    for file, n in (('set5_x2.png', 5), ('set5_x4.png', 4), ('lptn.png', 4)):
        names, _, (_, _, size), zoom = _layout(file)
        assert len(names) + 1 == n
        side = size * zoom
        assert read_image(first / file).shape == (HEADER + side + 2 * HEADER, n * side + (n - 1) * 4, 3)
        assert f'wrote {first / file} (' in stdout


def test_labels_are_the_psnr_of_the_models_own_outputs(rendered, shared_data):
    first, stdout, _, direct = rendered
    set5 = shared_data / 'Set5'
    fivek = paths.SAMPLE_DATA_DIR / 'FiveK' / 'FiveK_480p' / 'test'
    for file in figures.FIGURES:
        names, last, box, zoom = _layout(file)
        if file == 'lptn.png':
            ref = read_image(fivek / 'B' / f'{figures.LPTN_IMAGE}.jpg')
            panels = [read_image(fivek / 'A' / f'{figures.LPTN_IMAGE}.jpg')] + [direct[file, n] for n in names[1:]]
            opts, channel = dict(crop_border=0, test_y_channel=False), 'RGB'     # as pytorch/lptn/bench.py scores
        else:
            scale = int(file[-5])
            ref = read_image(set5 / 'HR' / f'x{scale}' / f'{figures.SET5_IMAGE}_HR_x{scale}.png')
            lr = read_image(set5 / 'LR_bicubic' / f'x{scale}' / f'{figures.SET5_IMAGE}_LRBI_x{scale}.png')
            panels = [imresize(lr, scale)] + [direct[file, n] for n in names[1:]]
            opts, channel = dict(crop_border=scale, test_y_channel=True), 'Y'    # crop = scale: the published protocol
        printed = _printed_labels(stdout, file)
        assert list(printed) == names
        for name, img in zip(names, panels):
            text, psnr = printed[name]
            expected = calculate_psnr(img, ref, **opts)                # the whole image, not the crop
            assert psnr == pytest.approx(expected, abs=1e-6), (file, name)
            assert text == f'{name} {expected:.2f} dB ({channel})'
        # the figure is those images' crop under those labels (then the caption lines)
        row = compose(panels + [ref], [printed[n][0] for n in names] + [last], box=box, zoom=zoom)
        assert np.array_equal(read_image(first / file)[:row.shape[0]], row), file


def test_a_rerun_writes_the_same_bytes(rendered):
    first, _, second, _ = rendered
    for file in figures.FIGURES:
        assert (first / file).read_bytes() == (second / file).read_bytes(), file


def test_a_missing_checkpoint_is_one_line_and_nothing_is_written(tmp_path):
    outputs = tmp_path / 'outputs'
    ckpt = bench_layout(outputs)
    for label, path in ckpt.items():                   # files where the benches leave them; srcnn's left out
        if label != 'srcnn':
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.with_name(path.name + '.index') if label in ('rcan', 'bsrn') else path).write_bytes(b'x')
    for label in ('rcan', 'bsrn'):
        (ckpt[label].parent / 'checkpoint').write_text(f'model_checkpoint_path: "{ckpt[label].name}"\n')
    out = tmp_path / 'figures'
    done = run(figures_command(outputs, out))
    assert done.returncode == 2 and done.stdout == ''
    assert done.stderr.splitlines() == [f'error: --outputs={outputs}: no bench checkpoint of srcnn '
                                        f'(make bench MODEL=srcnn) (python -m tools.zoo list shows what is there)']
    assert not out.exists()
    shutil.rmtree(outputs / 'lptn_bench')
    done = run(figures_command(outputs, out))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert 'srcnn (make bench MODEL=srcnn), lptn unpaired, lptn paired (make bench MODEL=lptn)' in done.stderr
    assert not out.exists()


def test_only_rerenders_the_figures_named_from_that_benchs_checkpoints_and_keeps_the_rest(bench_outputs, rendered,
                                                                                          tmp_path):
    """--only lptn.png with only LPTN's checkpoints in --outputs: lptn.png re-rendered (a damaged copy becomes the
    full run's bytes again), the Set5 figures and their manifest entries and stamps kept; a kept PNG that is not the
    manifest's bytes, or a model shown in a kept figure too, is one error line and nothing is written."""
    outputs, _ = bench_outputs
    first, _, _, _ = rendered
    lptn_only = tmp_path / 'outputs'
    shutil.copytree(outputs / 'lptn_bench', lptn_only / 'lptn_bench')
    out = tmp_path / 'figures'
    shutil.copytree(first, out)
    man = json.loads((out / figures.MANIFEST).read_text())
    man['records']['srcnn']['created'] = 'kept-stamp'
    (out / figures.MANIFEST).write_text(json.dumps(man))
    (out / 'lptn.png').write_bytes(b'damaged')
    done = run(figures_command(lptn_only, out) + ['--only', 'lptn.png'])
    assert done.returncode == 0, done.stderr
    assert [ln for ln in done.stdout.splitlines() if ln.startswith('wrote ')][0].startswith(f'wrote {out / "lptn.png"}')
    for file in figures.FIGURES:
        assert (out / file).read_bytes() == (first / file).read_bytes(), file
    now = json.loads((out / figures.MANIFEST).read_text())
    assert now['figures'] == json.loads((first / figures.MANIFEST).read_text())['figures']
    assert now['records']['srcnn']['created'] == 'kept-stamp'
    assert now['records']['lptn'] == figures.record_stamps()['lptn']
    before = {f: (out / f).read_bytes() for f in (*figures.FIGURES, figures.MANIFEST)}
    done = run(figures_command(outputs, out) + ['--only', 'set5_x4.png'])
    assert done.returncode == 2 and done.stderr.splitlines() == [
        'error: --only: bsrn is also shown in set5_x2.png, which would keep the panel of another run '
        '(add --only set5_x2.png)']
    (out / 'set5_x2.png').write_bytes(b'changed by hand')
    done = run(figures_command(lptn_only, out) + ['--only', 'lptn.png'])
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert f'--only: {out / "set5_x2.png"} is missing or not the bytes figures.json lists' in done.stderr
    before['set5_x2.png'] = b'changed by hand'
    assert {f: (out / f).read_bytes() for f in before} == before


def test_help():
    done = run([PY, '-m', 'tools.figures', '--help'])
    assert done.returncode == 0 and '--outputs' in done.stdout and 'set5_x2.png' in done.stdout


def test_the_manifest_tells_a_stale_picture_record_or_readme(rendered, tmp_path):
    """figures.json holds each PNG's hash and the stamps of the records whose checkpoints made it; stale()
    names a PNG changed by hand, a bench re-run since (its record's 'created' moved) and a README block
    not rendered from the manifest."""
    first, _, _, _ = rendered
    man = json.loads((first / figures.MANIFEST).read_text())
    assert set(man['figures']) == set(figures.FIGURES) and set(man['records']) == set(figures.MODELS_SHOWN)
    root = tmp_path / 'repo'
    for name in figures.MODELS_SHOWN:                   # the records the stamps were taken from
        rel = figures.REGISTRY[name].record
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.REPO_ROOT / rel, root / rel)
    folder = root / 'docs' / 'figures'
    shutil.copytree(first, folder)
    block = figures.readme_block(man)
    assert all(f'(docs/figures/{f})' in block for f in figures.FIGURES)
    assert f"{man['figures']['set5_x2.png']['panels'][1][1]:.2f} dB" in block      # SRCNN's PSNR, from the manifest
    (root / 'README.md').write_text(f'# zoo\n\n{figures.README_MARKERS[0]}\n{block}{figures.README_MARKERS[1]}\n')
    assert figures.stale(root, folder) == []
    png = folder / 'lptn.png'
    png.write_bytes(png.read_bytes() + b'\0')
    rec = root / figures.REGISTRY['rcan'].record
    rec.write_text(rec.read_text().replace(man['records']['rcan']['created'], '2030-01-01T00:00:00Z'))
    (root / 'README.md').write_text((root / 'README.md').read_text().replace('dB', 'db', 1))
    problems = figures.stale(root, folder)
    assert len(problems) == 3
    assert 'lptn.png: its bytes are not the ones make figures wrote' in problems[0]
    assert 'rcan_bench.json was made at 2030-01-01T00:00:00Z' in problems[1] and 'run make figures' in problems[1]
    assert 'README.md: the pictures block is not rendered' in problems[2]


def test_the_committed_pictures_are_fresh():
    """docs/figures/*.png are the bytes make figures wrote, from the checkpoints of the bench runs whose records
    are committed now, and the README's pictures block is rendered from their manifest."""
    problems = figures.stale()
    assert problems == [], '\n'.join(problems)
