"""common.metrics: the RCAN authors' MATLAB PSNR/SSIM table on Set5, cross-checks and error handling."""
import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from common import metrics
from common.color import to_y_channel
from common.metrics import (_ssim_single, _ssim_single_reference, calculate_psnr, calculate_ssim, evaluate_pairs,
                            protocol)
from tools.bench_bicubic import parse_matlab_table

SCALES = (2, 3, 4)


@pytest.fixture(scope='module')
def set5_rcan(shared_data):
    """{scale: [(name, sr, hr), ...]} plus the MATLAB table, for Set5 RCAN outputs."""
    set5 = shared_data / 'Set5'
    per_image, means = parse_matlab_table(set5 / 'SR_RCAN' / 'PSNR_SSIM_matlab.txt')
    assert sorted({name for (_, name) in per_image}) == ['baby', 'bird', 'butterfly', 'head', 'woman']
    pairs = {}
    for scale in SCALES:
        names = sorted(name for (s, name) in per_image if s == scale)
        pairs[scale] = [(name, cv2.imread(str(set5 / 'SR_RCAN' / f'x{scale}' / f'{name}_RCAN_x{scale}.png')),
                         cv2.imread(str(set5 / 'HR' / f'x{scale}' / f'{name}_HR_x{scale}.png'))) for name in names]
    return pairs, per_image, means


@pytest.mark.parametrize('scale', SCALES)
def test_reproduces_matlab_table(set5_rcan, scale):
    pairs, per_image, means = set5_rcan
    assert len(pairs[scale]) == 5
    results = evaluate_pairs(pairs[scale], crop_border=scale)
    for r in results:
        psnr, ssim = per_image[(scale, r['name'])]
        assert r['psnr'] == pytest.approx(psnr, abs=1e-6), r['name']
        assert r['ssim'] == pytest.approx(ssim, abs=1e-6), r['name']
    assert np.mean([r['psnr'] for r in results]) == pytest.approx(means[scale][0], abs=1e-6)
    assert np.mean([r['ssim'] for r in results]) == pytest.approx(means[scale][1], abs=1e-6)


def test_protocol_options_change_the_numbers(set5_rcan):
    pairs, per_image, _ = set5_rcan
    name, sr, hr = pairs[4][0]
    ref_psnr, _ = per_image[(4, name)]
    y = calculate_psnr(sr, hr, 4, test_y_channel=True)
    assert y == pytest.approx(ref_psnr, abs=1e-5)
    assert abs(calculate_psnr(sr, hr, 4, test_y_channel=True, round_y=True) - y) > 0.005
    assert abs(calculate_psnr(sr, hr, 0, test_y_channel=True) - y) > 0.005
    assert calculate_psnr(sr, hr, 4) < y - 1.0                      # RGB is well below Y on Set5


@pytest.mark.parametrize('shape', [(11, 11), (12, 40), (37, 23), (64, 301)])
def test_ssim_kernel_matches_reference_on_random_images(shape):
    rng = np.random.default_rng(shape[1])
    a = rng.random(shape) * 255
    for b in (np.clip(a + rng.normal(0, 20, shape), 0, 255), rng.random(shape) * 255, a):
        assert abs(_ssim_single(a, b) - _ssim_single_reference(a, b)) <= 1e-9
    strided = rng.random((shape[0], shape[1], 3)) * 255                      # a channel of an HWC image
    assert abs(_ssim_single(strided[..., 1], a) - _ssim_single_reference(strided[..., 1], a)) <= 1e-9


def test_ssim_kernel_matches_reference_on_set5(set5_rcan):
    pairs, _, _ = set5_rcan
    for scale in SCALES:
        for name, sr, hr in pairs[scale]:
            c = slice(scale, -scale)
            a, b = to_y_channel(sr[c, c]), to_y_channel(hr[c, c])
            assert abs(_ssim_single(a, b) - _ssim_single_reference(a, b)) <= 1e-9, (scale, name)


def test_ssim_block_sums_do_not_depend_on_threads():
    from common.imresize import run_split
    rng = np.random.default_rng(6)
    a, b = rng.random((300, 90)) * 255, rng.random((300, 90)) * 255
    n_blocks = -(-(300 - 10) // metrics._SSIM_BLOCK)
    sums = [np.empty(n_blocks), np.empty(n_blocks)]
    for out, threaded in zip(sums, (False, True)):
        run_split(metrics._ssim_map_sum, n_blocks, (a, b, metrics._gaussian_window(), out), threaded=threaded)
    assert np.array_equal(sums[0], sums[1])


def test_ssim_without_numba_uses_the_reference(monkeypatch):
    rng = np.random.default_rng(5)
    a, b = rng.random((30, 26)) * 255, rng.random((30, 26)) * 255
    monkeypatch.setattr(metrics, 'numba', None)
    monkeypatch.setattr(metrics, '_ssim_map_sum', None)                 # would raise if it were called
    assert _ssim_single(a, b) == _ssim_single_reference(a, b)


def test_ssim_matches_skimage_gaussian_ssim(set5_rcan):
    """skimage with Wang et al.'s settings computes the same valid-region mean."""
    pairs, _, _ = set5_rcan
    _, sr, hr = pairs[3][2]
    a, b = sr[3:-3, 3:-3, 1].astype(np.float64), hr[3:-3, 3:-3, 1].astype(np.float64)
    ref = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert calculate_ssim(sr[..., 1], hr[..., 1], 3) == pytest.approx(ref, abs=1e-9)


def test_psnr_by_hand_and_identity():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 20, 3)).astype(np.uint8)
    noisy = np.clip(img.astype(int) + rng.choice([-3, 3], img.shape), 0, 255).astype(np.uint8)
    mse = np.mean((img[2:-2, 2:-2].astype(float) - noisy[2:-2, 2:-2]) ** 2)
    assert calculate_psnr(img, noisy, 2) == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-12)
    assert calculate_psnr(img, img, 0) == float('inf')
    assert calculate_ssim(img, img, 0) == pytest.approx(1.0, abs=1e-12)
    assert calculate_ssim(img, noisy, 0) < 1.0
    # CHW order and HW arrays give the same numbers.
    chw = dict(input_order='CHW')
    assert calculate_psnr(img.transpose(2, 0, 1), noisy.transpose(2, 0, 1), 2, **chw) == calculate_psnr(img, noisy, 2)
    assert calculate_ssim(img.transpose(2, 0, 1), noisy.transpose(2, 0, 1), 2, **chw) == pytest.approx(
        calculate_ssim(img, noisy, 2), abs=1e-15)
    per_channel = np.mean([calculate_ssim(img[..., c], noisy[..., c], 2) for c in range(3)])
    assert calculate_ssim(img, noisy, 2) == pytest.approx(per_channel, abs=1e-15)
    # Y of a float [0, 255] image equals Y of the uint8 image.
    assert calculate_psnr(img.astype(np.float32), noisy, 2, test_y_channel=True) == pytest.approx(
        calculate_psnr(img, noisy, 2, test_y_channel=True), abs=1e-9)


def test_evaluate_pairs_mod_crop_and_mismatch():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (50, 43, 3)).astype(np.uint8)
    sr = hr[:48, :40].copy()                                      # HR not mod-cropped to x4
    (res,) = evaluate_pairs([('a', sr, hr)], crop_border=4)
    assert res['name'] == 'a' and res['psnr'] == float('inf') and res['ssim'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r'a: SR shape \(48, 40, 3\) does not match HR shape \(50, 44, 3\)'):
        evaluate_pairs([('a', sr, np.zeros((50, 44, 3), np.uint8))], crop_border=4)   # 4 px extra: too much
    with pytest.raises(ValueError, match='does not match'):
        evaluate_pairs([('a', hr, sr)], crop_border=4)                              # SR larger than HR
    (res,) = evaluate_pairs([('a', sr, hr)], crop_border=0, scale=4)                # slack from the scale
    assert res['psnr'] == float('inf')


@pytest.mark.parametrize('fn', [calculate_psnr, calculate_ssim])
def test_errors(fn):
    a = np.zeros((20, 20, 3))
    with pytest.raises(ValueError, match=r'\(20, 20, 3\) vs \(20, 21, 3\)'):
        fn(a, np.zeros((20, 21, 3)), 0)
    with pytest.raises(ValueError, match='crop_border=10'):
        fn(a, a, 10)
    with pytest.raises(ValueError, match='input_order'):
        fn(a, a, 0, input_order='NHWC')
    with pytest.raises(ValueError, match='crop_border'):
        fn(a, a, -1)
    with pytest.raises(ValueError, match='test_y_channel'):
        fn(np.zeros((20, 20, 2)), np.zeros((20, 20, 2)), 0, test_y_channel=True)


def test_ssim_needs_the_window():
    with pytest.raises(ValueError, match='11x11'):
        calculate_ssim(np.zeros((14, 30)), np.zeros((14, 30)), 2)


def test_protocol():
    assert protocol(2) == {'channel': 'y', 'crop_border': 2, 'round_y': False,
                           'label': 'Y (BT.601, unrounded), crop=2, SSIM Wang04 11x11 g1.5'}
    assert protocol(4, round_y=True)['label'] == 'Y (BT.601, rounded), crop=4, SSIM Wang04 11x11 g1.5'
    rgb = protocol(0, test_y_channel=False, round_y=True)
    assert rgb['channel'] == 'rgb' and rgb['round_y'] is False and rgb['label'].startswith('RGB, crop=0')
