"""The 310-style offline flow on two images: preprocess -> infer_mindir (MINDIR) -> postprocess."""
import json
import shutil

import cv2
import numpy as np
import pytest

from common.imgio import read_image
from common.metrics import evaluate_pairs


@pytest.fixture(scope='module')
def flow(srcnn, tiny_images, random_checkpoint, tmp_path_factory, run_main):
    """Export a 64x64 MINDIR and run the three steps; 70x90 and 66x82 inputs need 2x2 tiles each."""
    root = tmp_path_factory.mktemp('offline')
    mindir = run_main(srcnn.export, {'checkpoint_path': random_checkpoint[0], 'file_name': root / 'srcnn',
                                     'image_height': 64, 'image_width': 64})
    prep, pred, result = root / 'prep', root / 'pred', root / 'sr'
    n_bins = run_main(srcnn.preprocess, {'image_path': tiny_images, 'output_path': prep,
                                         'image_height': 64, 'image_width': 64})
    n_run = run_main(srcnn.infer_mindir, {'mindir_path': mindir, 'output_path': prep, 'predict_path': pred})
    return {'prep': prep, 'pred': pred, 'result': result, 'bins': n_bins, 'runs': n_run, 'mindir': mindir}


def test_preprocess_writes_export_shaped_inputs(flow):
    assert flow['bins'] == flow['runs'] == 8
    for path in sorted((flow['prep'] / 'input').glob('*.bin')):
        assert path.stat().st_size == 4 * 64 * 64
    meta = json.loads(sorted((flow['prep'] / 'meta').glob('*.json'))[0].read_text())
    assert meta['input_shape'] == [1, 1, 64, 64] and len(meta['tiles']) == 4
    assert (flow['prep'] / 'meta' / f"{meta['name']}_bicubic.png").is_file()
    assert sorted(p.name for p in flow['pred'].iterdir())[0].endswith('_0_0.bin')


def test_postprocess_scores_against_the_real_hr(srcnn, flow, tiny_images, random_checkpoint, run_main, capsys):
    psnr = run_main(srcnn.postprocess, {'output_path': flow['prep'], 'predict_path': flow['pred'],
                                        'result_path': flow['result']})
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith(f'Average PSNR: {psnr:.4f}')
    # Same numbers as the eager network on whole images, up to the tiles' bottom/right zero padding.
    import mindspore as ms
    ms.set_context(mode=ms.PYNATIVE_MODE)
    predict = srcnn.utils.ms_predictor(random_checkpoint[1])
    pairs = []
    for path in sorted(tiny_images.glob('*.png')):
        pair = srcnn.utils.prepare_pair(read_image(path), 2)
        pairs.append((path.stem, srcnn.utils.compose_sr(predict(pair['y_in']), pair['up']), pair['hr']))
        written = read_image(flow['result'] / f"{path.stem.replace('_HR_x2', '')}_srcnn.png")
        assert written.shape == pair['hr'].shape
    want = np.mean([r['psnr'] for r in evaluate_pairs(pairs, 2)])
    assert psnr == pytest.approx(want, abs=1e-6)       # both images exceed 64x64: the tiling is exact


def test_assembled_output_equals_whole_image_inference(srcnn, flow, tiny_images, random_checkpoint):
    import mindspore as ms
    ms.set_context(mode=ms.PYNATIVE_MODE)
    predict = srcnn.utils.ms_predictor(random_checkpoint[1])
    for path in sorted(tiny_images.glob('*.png')):
        meta = json.loads((flow['prep'] / 'meta' / f"{path.stem.replace('_HR_x2', '')}.json").read_text())
        want = predict(srcnn.utils.prepare_pair(read_image(path), 2)['y_in'])
        np.testing.assert_allclose(srcnn.postprocess.assemble(meta, flow['pred']), want, rtol=0, atol=1e-5)


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_rerun_replaces_only_its_own_output(srcnn, flow, tiny_images, tmp_path, run_main):
    prep = tmp_path / 'prep'
    run_main(srcnn.preprocess, {'image_path': tiny_images, 'output_path': prep, 'image_height': 64, 'image_width': 64})
    one = tmp_path / 'one'
    one.mkdir()
    first = sorted(tiny_images.glob('*.png'))[0]
    shutil.copy(first, one / first.name)
    assert run_main(srcnn.preprocess, {'image_path': one, 'output_path': prep, 'image_height': 64,
                                       'image_width': 64}) == 4
    name = first.stem.replace('_HR_x2', '')
    assert _names(prep / 'input') == [f'{name}_{k}.bin' for k in range(4)]       # no stale inputs of the first run
    assert _names(prep / 'meta') == [f'{name}.json', f'{name}_bicubic.png']
    assert json.loads((prep / 'preprocess.json').read_text())['images'] == [name]
    assert _names(tmp_path) == ['one', 'prep']                                   # no leftover build folders
    # infer_mindir replaces its own earlier output the same way
    pred = tmp_path / 'pred'
    shutil.copytree(flow['pred'], pred)
    assert run_main(srcnn.infer_mindir, {'mindir_path': flow['mindir'], 'output_path': prep, 'predict_path': pred}) == 4
    assert _names(pred) == sorted(['infer.json'] + [f'{name}_{k}_0.bin' for k in range(4)])


def test_folders_that_are_not_ours_are_refused(srcnn, flow, tiny_images, tmp_path, run_main):
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'notes.txt').write_text('keep me')
    args = {'image_path': tiny_images, 'image_height': 64, 'image_width': 64}
    with pytest.raises(FileExistsError, match=f'--output_path={mine}: exists and is not an output of preprocess.py'):
        run_main(srcnn.preprocess, dict(args, output_path=mine))
    with pytest.raises(FileExistsError, match=f'--predict_path={mine}: exists and is not an output of infer_mindir'):
        run_main(srcnn.infer_mindir, {'mindir_path': flow['mindir'], 'output_path': flow['prep'], 'predict_path': mine})
    assert _names(mine) == ['notes.txt']
    with pytest.raises(ValueError, match='--output_path=.* lies inside --image_path='):
        run_main(srcnn.preprocess, dict(args, output_path=tiny_images / 'prep'))
    empty = tmp_path / 'empty'                                                    # an empty folder is used
    empty.mkdir()
    assert run_main(srcnn.preprocess, dict(args, output_path=empty)) == 8


def test_failed_preprocess_leaves_the_earlier_output(srcnn, tiny_images, tmp_path, run_main):
    prep = tmp_path / 'prep'
    args = {'output_path': prep, 'image_height': 64, 'image_width': 64}
    run_main(srcnn.preprocess, dict(args, image_path=tiny_images))
    before = {p.name: p.read_bytes() for p in (prep / 'input').iterdir()}
    broken = tmp_path / 'broken'
    broken.mkdir()
    for path in sorted(tiny_images.glob('*.png')):
        shutil.copy(path, broken / path.name)
    (broken / 'zzz.png').write_bytes(b'not a png')                               # fails after two good images
    with pytest.raises(ValueError, match='zzz.png: cannot decode image'):
        run_main(srcnn.preprocess, dict(args, image_path=broken))
    assert {p.name: p.read_bytes() for p in (prep / 'input').iterdir()} == before
    assert _names(tmp_path) == ['broken', 'prep']


def test_postprocess_refuses_a_half_or_foreign_set(srcnn, flow, tiny_images, tmp_path, run_main):
    def score(pred):
        return run_main(srcnn.postprocess, {'output_path': flow['prep'], 'predict_path': pred})
    pred = tmp_path / 'pred'
    shutil.copytree(flow['pred'], pred)
    lost = sorted(pred.glob('*_0.bin'))[-1]
    data = lost.read_bytes()
    lost.unlink()
    with pytest.raises(FileNotFoundError, match=f'missing network output for 1 of 8 input.*{lost.name}'):
        score(pred)
    lost.write_bytes(data[:-4])
    with pytest.raises(ValueError, match=f'{lost.name}: 4095 floats, expected 64x64'):
        score(pred)
    lost.write_bytes(data)
    (pred / 'other_0_0.bin').write_bytes(data)
    with pytest.raises(ValueError, match="1 output.* that --output_path=.* did not ask for .*other_0_0.bin.*do not match"):
        score(pred)
    (pred / 'other_0_0.bin').unlink()
    (pred / 'infer.json').write_text(json.dumps({'preprocess_run_id': 'another run'}))
    with pytest.raises(ValueError, match='holds the outputs of another preprocess run'):
        score(pred)
    (pred / 'infer.json').unlink()                      # outputs of a 310 binary (no infer.json): the file set decides
    assert score(pred) == pytest.approx(score(flow['pred']))
    # a new preprocess run makes the old outputs foreign, even with the same file names
    prep = tmp_path / 'prep'
    shutil.copytree(flow['prep'], prep)
    run_main(srcnn.preprocess, {'image_path': tiny_images, 'output_path': prep, 'image_height': 64, 'image_width': 64})
    with pytest.raises(ValueError, match='another preprocess run'):
        run_main(srcnn.postprocess, {'output_path': prep, 'predict_path': flow['pred']})


def test_unusable_output_folders_are_one_line_naming_the_flag(srcnn, flow, tiny_images, tmp_path, run_main):
    blocker = tmp_path / 'plain'
    blocker.write_text('x')
    with pytest.raises(ValueError, match=f'--output_path={blocker}/prep: cannot create it, {blocker} is a file'):
        run_main(srcnn.preprocess, {'image_path': tiny_images, 'output_path': blocker / 'prep'})
    with pytest.raises(ValueError, match=f'--output_path={blocker}: is a file, expected a folder'):
        run_main(srcnn.preprocess, {'image_path': tiny_images, 'output_path': blocker})
    with pytest.raises(ValueError, match=f'--predict_path={blocker}/p: cannot create it, {blocker} is a file'):
        run_main(srcnn.infer_mindir, {'mindir_path': flow['mindir'], 'output_path': flow['prep'],
                                      'predict_path': blocker / 'p'})
    with pytest.raises(ValueError, match=f'--result_path={blocker}: is a file, expected a folder'):
        run_main(srcnn.postprocess, {'output_path': flow['prep'], 'predict_path': flow['pred'], 'result_path': blocker})
    with pytest.raises(FileNotFoundError, match=f'--image_path={tmp_path / "nowhere"}: no such file or folder'):
        run_main(srcnn.preprocess, {'image_path': tmp_path / 'nowhere', 'output_path': tmp_path / 'prep'})
    with pytest.raises(ValueError, match='--image_height/--image_width: the model input height 16 is too small'):
        run_main(srcnn.preprocess, {'image_path': tiny_images, 'output_path': tmp_path / 'prep',
                                    'image_height': 16, 'image_width': 16})
    assert _names(tmp_path) == ['plain']


def test_offline_flow_bad_inputs(srcnn, flow, tmp_path, run_main):
    with pytest.raises(FileNotFoundError, match='--mindir_path=.*no such file'):
        run_main(srcnn.infer_mindir, {'mindir_path': tmp_path / 'x.mindir', 'output_path': flow['prep'],
                                      'predict_path': tmp_path / 'p'})
    with pytest.raises(FileNotFoundError, match='no preprocess.json there, not a .complete. output of preprocess.py'):
        run_main(srcnn.infer_mindir, {'mindir_path': flow['mindir'], 'output_path': tmp_path,
                                      'predict_path': tmp_path / 'p'})
    with pytest.raises(FileNotFoundError, match='missing network output'):
        run_main(srcnn.postprocess, {'output_path': flow['prep'], 'predict_path': tmp_path})
    with pytest.raises(ValueError, match='--image_path is empty'):
        run_main(srcnn.preprocess, {'output_path': tmp_path})
