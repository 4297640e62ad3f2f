"""common.imresize: golden MATLAB R2017b outputs, the uint8 class rule, shapes, properties, bad input,
the numba path against the numpy reference, and the committed speed table."""
import math

import cv2
import numpy as np
import pytest

from common import imresize as imresize_module
from common.imresize import _imresize_reference, contributions, cubic, imresize

GOLDEN = [('down_x2', 1 / 2), ('down_x3', 1 / 3), ('down_x4', 1 / 4), ('up_x2', 2), ('up_x3', 3)]


def _to_uint8(x):
    """MATLAB's im2uint8 on doubles: round half away from zero after clipping to [0, 255]."""
    return np.floor(np.clip(x * 255.0, 0, 255) + 0.5).astype(np.int64)


def _dense(in_len, out_len, scale, antialiasing=True):
    """Dense (out, in) resampling matrix built from contributions(): the plain definition."""
    weights, indices = contributions(in_len, out_len, scale, antialiasing)
    mat = np.zeros((out_len, in_len))
    np.add.at(mat, (np.repeat(np.arange(out_len), weights.shape[1]), indices.ravel()), weights.ravel())
    return mat


@pytest.fixture(scope='module')
def baboon(shared_data):
    img = cv2.imread(str(shared_data / 'matlab_imresize' / 'baboon.png'), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (480, 492, 3)
    return img


@pytest.mark.parametrize('tag,scale', GOLDEN)
def test_matches_matlab_golden(shared_data, baboon, tag, scale):
    """float [0,1] RGB in, round(clip(out*255)) == MATLAB's PNG: 0 differing values at every scale."""
    ref = cv2.imread(str(shared_data / 'matlab_imresize' / f'baboon_{tag}_matlab.png'), cv2.IMREAD_COLOR)
    rgb = baboon[:, :, ::-1].astype(np.float64) / 255.0
    out = imresize(rgb, scale)
    assert out.dtype == np.float64
    assert out.shape == ref.shape
    assert np.count_nonzero(_to_uint8(out) != ref[:, :, ::-1]) == 0


def test_output_size_is_ceil(baboon):
    assert imresize(baboon, 1 / 3).shape == (160, 164, 3)
    assert imresize(baboon[:479, :491], 1 / 4).shape == (120, 123, 3)     # ceil(119.75), ceil(122.75)
    assert imresize(baboon[:7, :5], 1.5).shape == (11, 8, 3)


@pytest.mark.parametrize('shape,scale', [((37, 29), 0.5), ((37, 29), 1 / 3), ((40, 23), 0.7), ((19, 31), 1.37),
                                         ((16, 16), 2), ((9, 12), 4), ((50, 41), (0.3, 1.9))])
def test_equals_dense_matrix_definition(shape, scale):
    """The strided/phase fast path equals out = Wh @ img @ Ww.T built from contributions()."""
    rng = np.random.default_rng(0)
    img = rng.random(shape + (3,))
    sh, sw = scale if isinstance(scale, tuple) else (scale, scale)
    oh, ow = math.ceil(shape[0] * sh), math.ceil(shape[1] * sw)
    wh, ww = _dense(shape[0], oh, sh), _dense(shape[1], ow, sw)
    ref = np.einsum('oi,ijc,pj->opc', wh, img, ww)
    np.testing.assert_allclose(imresize(img, scale), ref, rtol=0, atol=1e-12)


def test_contributions_tables():
    weights, indices = contributions(4, 2, 0.5)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-15)
    # MATLAB mirrors through the 1-based table [1 2 3 4 4 3 2 1]: every index lands inside [0, 4).
    assert indices.min() >= 0 and indices.max() <= 3
    # Without antialiasing the kernel keeps its 4-pixel support.
    weights, _ = contributions(100, 50, 0.5, antialiasing=False)
    assert weights.shape[1] <= 6
    # Keys cubic kernel values (a = -0.5).
    np.testing.assert_allclose(cubic(np.array([0, 0.5, 1, 1.5, 2, 2.5])), [1, 0.5625, 0, -0.0625, 0, 0])


def test_uint8_rounds_each_pass_like_matlab(shared_data):
    """MATLAB keeps uint8 after each 1-D pass. Per-pass rounding reproduces the authors' Set5 LR file
    for all but ~0.3% of values; rounding only at the end misses ~15% (they used an older MATLAB, so a
    few values differ either way)."""
    set5 = shared_data / 'Set5'
    hr = cv2.imread(str(set5 / 'HR' / 'x2' / 'baby_HR_x2.png'))
    lr = cv2.imread(str(set5 / 'LR_bicubic' / 'x2' / 'baby_LRBI_x2.png'))
    out = imresize(hr, 0.5)
    assert out.dtype == np.uint8 and out.shape == lr.shape
    assert np.count_nonzero(out != lr) < 0.005 * lr.size
    end_rounded = np.floor(np.clip(imresize(hr.astype(np.float64), 0.5), 0, 255) + 0.5)
    assert np.count_nonzero(end_rounded != lr) > 0.1 * lr.size


def test_uint8_saturates_and_float_keeps_overshoot():
    img = np.zeros((16, 16, 3), np.uint8)
    img[:, 8:] = 255
    up8 = imresize(img, 2)
    assert up8.dtype == np.uint8 and up8.min() == 0 and up8.max() == 255
    upf = imresize(img.astype(np.float32) / 255, 2)
    assert upf.dtype == np.float32
    assert upf.min() < -0.01 and upf.max() > 1.01          # bicubic ringing is not clipped
    np.testing.assert_array_equal(up8, _to_uint8(np.clip(upf.astype(np.float64), 0, 1)))


def test_hw_input_matches_each_channel(baboon):
    out = imresize(baboon, 1 / 3)
    for c in range(3):
        gray = imresize(baboon[:, :, c], 1 / 3)
        assert gray.shape == (160, 164) and gray.dtype == np.uint8
        np.testing.assert_array_equal(gray, out[:, :, c])


def test_output_shape(baboon):
    rgb = baboon.astype(np.float64) / 255
    np.testing.assert_array_equal(imresize(rgb, output_shape=(240, 246)), imresize(rgb, 0.5))
    odd = imresize(rgb, output_shape=(100, 300))          # W enlarged, H shrunk: H is resized first
    assert odd.shape == (100, 300, 3)
    np.testing.assert_allclose(odd.mean(axis=(0, 1)), rgb.mean(axis=(0, 1)), atol=2e-3)


def test_identity_and_invariants():
    rng = np.random.default_rng(1)
    img = rng.random((21, 17, 3))
    np.testing.assert_allclose(imresize(img, 1), img, atol=1e-15)
    const = np.full((23, 19), 0.3)
    for scale in (0.25, 1 / 3, 0.6, 1.7, 3):
        np.testing.assert_allclose(imresize(const, scale), 0.3, atol=1e-14)   # weights sum to one
    # Keys' cubic reproduces a linear ramp exactly away from the mirrored borders.
    ramp = np.tile(np.arange(40, dtype=np.float64), (8, 1))
    up = imresize(ramp, (1, 2))
    np.testing.assert_allclose(np.diff(up[:, 6:-6], axis=1), 0.5, atol=1e-12)
    # When in * scale is whole, the sampling grid is centred: flipping the image flips the result.
    even = img[:20, :16]
    np.testing.assert_allclose(imresize(even[::-1, ::-1], 0.5), imresize(even, 0.5)[::-1, ::-1], atol=1e-14)


def test_other_dtypes():
    rng = np.random.default_rng(2)
    img16 = rng.integers(0, 65536, (20, 20, 3), dtype=np.uint16)
    out16 = imresize(img16, 0.5)
    assert out16.dtype == np.uint16 and out16.shape == (10, 10, 3)
    # Each integer class saturates to its own range; away from the limits the classes agree.
    mid = rng.integers(20000, 40000, (20, 20, 3), dtype=np.uint16)
    out64 = imresize(mid.astype(np.int64), 0.5)
    assert out64.dtype == np.int64
    np.testing.assert_array_equal(out64, imresize(mid, 0.5).astype(np.int64))
    many = rng.random((12, 10, 6))                          # more channels than OpenCV's transpose takes
    np.testing.assert_allclose(imresize(many, (2, 0.5))[..., 5], imresize(many[..., 5], (2, 0.5)), atol=1e-15)


@pytest.mark.parametrize('kwargs,match', [
    (dict(scale=0), 'scale'),
    (dict(scale=-2), 'scale'),
    (dict(scale=float('nan')), 'scale'),
    (dict(scale='2'), 'scale'),
    (dict(scale=(2, 2, 2)), 'scale'),
    (dict(), 'exactly one'),
    (dict(scale=2, output_shape=(8, 8)), 'exactly one'),
    (dict(output_shape=(0, 8)), 'output_shape'),
    (dict(output_shape=(8.0, 8)), 'output_shape'),
    (dict(output_shape=8), 'output_shape'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        imresize(np.zeros((8, 8, 3)), **kwargs)


@pytest.mark.parametrize('img,match', [
    (np.zeros((2, 8, 8, 3)), 'HW or HWC'),
    (np.zeros((0, 8, 3)), 'HW or HWC'),
    (np.zeros(8), 'HW or HWC'),
    (np.zeros((8, 8), bool), 'dtype'),
    (np.zeros((8, 8), complex), 'dtype'),
])
def test_bad_images(img, match):
    with pytest.raises(ValueError, match=match):
        imresize(img, 2)


# --- the numba path is bit-identical to the numpy reference --------------------------------------

FAST_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
FAST_SCALES = (1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.37, 1.7, (0.5, 1.3), (1.3, 0.5))


def _random_image(rng, shape, dtype):
    """Random image over the whole range of an integer dtype (so both passes saturate), or normal floats."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def _assert_identical(out, ref):
    assert out.dtype == ref.dtype and out.shape == ref.shape
    assert np.array_equal(out, ref)
    if out.dtype.kind == 'f':                           # bit patterns too (the sign of zero)
        assert np.array_equal(out.view(f'u{out.itemsize}'), ref.view(f'u{ref.itemsize}'))


@pytest.mark.parametrize('dtype', FAST_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize('shape', [(23, 31), (23, 31, 1), (29, 19, 3), (17, 26, 4)])
def test_fast_path_equals_reference(dtype, shape):
    """np.array_equal between the numba kernels and the einsum reference, per scale and output_shape."""
    rng = np.random.default_rng(sum(shape) + np.dtype(dtype).num)
    img = _random_image(rng, shape, dtype)
    for scale in FAST_SCALES:
        _assert_identical(imresize(img, scale), _imresize_reference(img, scale))
    for size in [(7, 40), (40, 7), (shape[0], shape[1] + 5), (1, 1)]:
        _assert_identical(imresize(img, output_shape=size), _imresize_reference(img, output_shape=size))
    _assert_identical(imresize(img, 0.37, antialiasing=False), _imresize_reference(img, 0.37, antialiasing=False))


@pytest.mark.parametrize('dtype', [np.uint8, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize('scale', [1 / 2, 1 / 4, 2, 0.37, 1.7, (0.5, 1.3), (1.3, 0.5)], ids=str)
def test_fast_path_equals_reference_threaded(dtype, scale, monkeypatch):
    """Shared out to the worker threads (forced for any size here), both pass orders."""
    monkeypatch.setattr(imresize_module, '_MIN_THREADED', 0)
    img = _random_image(np.random.default_rng(7), (203, 171, 3), dtype)
    _assert_identical(imresize(img, scale), _imresize_reference(img, scale))


def test_fast_path_on_real_photo_and_other_dtypes(baboon):
    _assert_identical(imresize(baboon, 2), _imresize_reference(baboon, 2))
    rgb = baboon[:, :, ::-1].astype(np.float64) / 255.0
    _assert_identical(imresize(rgb, 1 / 3), _imresize_reference(rgb, 1 / 3))
    rng = np.random.default_rng(3)
    for dtype in (np.int8, np.uint32, np.int32, np.float16, np.int64):   # int64: the reference itself
        img = _random_image(rng, (21, 18, 3), dtype)
        _assert_identical(imresize(img, 0.6), _imresize_reference(img, 0.6))
    noncontig = np.asfortranarray(_random_image(rng, (30, 20, 3), np.float32))[::2]
    _assert_identical(imresize(noncontig, 1.7), _imresize_reference(noncontig, 1.7))


def test_without_numba_the_reference_runs(monkeypatch):
    img = _random_image(np.random.default_rng(4), (20, 16, 3), np.uint8)
    expected = imresize(img, 0.5)
    monkeypatch.setattr(imresize_module, 'numba', None)
    monkeypatch.setattr(imresize_module, '_imresize_fast', None)      # would raise if it were called
    _assert_identical(imresize(img, 0.5), expected)


def test_numba_kernel_without_a_writable_cache(monkeypatch):
    """Where numba finds nowhere to cache (a read-only install), kernels compile without the cache."""
    calls = []

    class FakeNumba:
        @staticmethod
        def njit(**kwargs):
            calls.append(kwargs)
            if kwargs.get('cache'):
                raise RuntimeError('cannot cache function: no locator available')
            return lambda fn: fn

    from common import jit
    monkeypatch.setattr(jit, 'numba', FakeNumba)
    fn = jit.numba_kernel(lambda: 1)
    assert fn() == 1
    assert calls == [{'nogil': True, 'cache': True}, {'nogil': True}]


def test_committed_speed_table_is_rendered_from_the_record():
    """docs/protocol.md's speed block is exactly what tools.bench_imresize renders from the record."""
    from common import records
    from tools import bench_imresize
    from tools.registry import REGISTRY
    if not bench_imresize.DEFAULT_JSON.exists():
        pytest.skip('results/imresize_bench.json not generated yet (python -m tools.bench --model imresize)')
    record = records.load_record(bench_imresize.DEFAULT_JSON)
    assert record['kind'] == 'bench' and record['evaluations'] == []
    assert not any(str(bench_imresize.paths.REPO_ROOT) in json_line
                   for json_line in bench_imresize.DEFAULT_JSON.read_text().splitlines()), 'absolute path'
    docs = (bench_imresize.paths.REPO_ROOT / REGISTRY['imresize'].readme).read_text()
    assert records.replace_between_markers(docs, bench_imresize.render_speed_table(record)) == docs, \
        'docs/protocol.md is stale: run `python -m tools.bench --model imresize --render_only`'
