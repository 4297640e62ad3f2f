"""The 310-style offline flow on two images: preprocess -> infer_mindir (MINDIR) -> postprocess."""
import json

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
    assert psnr == pytest.approx(want, abs=0.05)


def test_offline_flow_bad_inputs(srcnn, flow, tmp_path, run_main):
    with pytest.raises(FileNotFoundError, match='--mindir_path=.*no such file'):
        run_main(srcnn.infer_mindir, {'mindir_path': tmp_path / 'x.mindir', 'output_path': flow['prep'],
                                      'predict_path': tmp_path / 'p'})
    with pytest.raises(FileNotFoundError, match='no .bin inputs'):
        run_main(srcnn.infer_mindir, {'mindir_path': flow['mindir'], 'output_path': tmp_path,
                                      'predict_path': tmp_path / 'p'})
    with pytest.raises(FileNotFoundError, match='missing network output'):
        run_main(srcnn.postprocess, {'output_path': flow['prep'], 'predict_path': tmp_path})
    with pytest.raises(ValueError, match='--image_path is empty'):
        run_main(srcnn.preprocess, {'output_path': tmp_path})
