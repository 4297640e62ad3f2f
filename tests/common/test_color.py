"""common.color: MATLAB BT.601 values, round trips, agreement with scikit-image, Y for metrics."""
import numpy as np
import pytest
from skimage.color import rgb2ycbcr as sk_rgb2ycbcr

from common.color import bgr2ycbcr, rgb2ycbcr, to_y_channel, ycbcr2bgr, ycbcr2rgb


@pytest.fixture(scope='module')
def rgb8():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (31, 27, 3), dtype=np.uint8)
    img[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128],
                  [255, 255, 0], [0, 255, 255]]
    return img


def test_known_values():
    white, black = np.full((1, 1, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8)
    np.testing.assert_array_equal(rgb2ycbcr(white)[0, 0], [235, 128, 128])
    np.testing.assert_array_equal(rgb2ycbcr(black)[0, 0], [16, 128, 128])
    np.testing.assert_allclose(rgb2ycbcr(np.ones((1, 1, 3)))[0, 0], np.array([235, 128, 128]) / 255, atol=1e-12)
    red = np.array([[[1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(rgb2ycbcr(red)[0, 0] * 255, [16 + 65.481, 128 - 37.797, 128 + 112.0], atol=1e-12)
    blue = np.array([[[0.0, 0.0, 1.0]]])   # the extremes of Cb/Cr are 16 and 240
    np.testing.assert_allclose(rgb2ycbcr(blue)[0, 0, 1] * 255, 240, atol=1e-12)


def test_matches_skimage(rgb8):
    ref = sk_rgb2ycbcr(rgb8.astype(np.float64) / 255)            # skimage: 0..255 scale for float input
    ours = rgb2ycbcr(rgb8.astype(np.float64) / 255) * 255
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    np.testing.assert_allclose(rgb2ycbcr(rgb8.astype(np.float64) / 255, y_only=True) * 255, ref[..., 0], atol=1e-10)
    # uint8 -> uint8 is MATLAB's rounding of the same values.
    np.testing.assert_array_equal(rgb2ycbcr(rgb8), np.floor(ref + 0.5).astype(np.uint8))


def test_float_round_trip_is_exact(rgb8):
    rgb = rgb8.astype(np.float64) / 255
    np.testing.assert_allclose(ycbcr2rgb(rgb2ycbcr(rgb)), rgb, atol=1e-12)
    np.testing.assert_allclose(ycbcr2bgr(bgr2ycbcr(rgb[..., ::-1])), rgb[..., ::-1], atol=1e-12)


def test_uint8_round_trip_within_one_level(rgb8):
    back = ycbcr2rgb(rgb2ycbcr(rgb8))
    assert back.dtype == np.uint8
    assert np.abs(back.astype(int) - rgb8.astype(int)).max() <= 2   # two roundings through a 220-level Y


def test_bgr_is_rgb_reversed(rgb8):
    np.testing.assert_array_equal(bgr2ycbcr(rgb8[..., ::-1]), rgb2ycbcr(rgb8))
    np.testing.assert_array_equal(bgr2ycbcr(rgb8[..., ::-1], y_only=True), rgb2ycbcr(rgb8, y_only=True))
    ycc = rgb2ycbcr(rgb8)
    np.testing.assert_array_equal(ycbcr2bgr(ycc), ycbcr2rgb(ycc)[..., ::-1])


def test_dtypes():
    f32 = np.random.default_rng(1).random((4, 5, 3)).astype(np.float32)
    assert rgb2ycbcr(f32).dtype == np.float32
    assert rgb2ycbcr(f32, y_only=True).shape == (4, 5)
    assert ycbcr2rgb(rgb2ycbcr(f32)).dtype == np.float32
    y = rgb2ycbcr(f32, y_only=True)
    assert y.min() >= 16 / 255 - 1e-6 and y.max() <= 235 / 255 + 1e-6


def test_to_y_channel(rgb8):
    bgr = rgb8[..., ::-1]
    y = to_y_channel(bgr)
    assert y.dtype == np.float64 and y.shape == rgb8.shape[:2]
    np.testing.assert_allclose(y, sk_rgb2ycbcr(rgb8.astype(np.float64) / 255)[..., 0], atol=1e-10)
    assert not np.allclose(y, np.round(y))                          # unrounded by default
    np.testing.assert_array_equal(to_y_channel(bgr, round_y=True), rgb2ycbcr(rgb8, y_only=True).astype(np.float64))
    np.testing.assert_array_equal(to_y_channel(bgr.astype(np.float32)), y)    # dtype-independent, float64 math
    gray = rgb8[..., 0]
    out = to_y_channel(gray)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, gray)                       # HW: returned unchanged


@pytest.mark.parametrize('fn', [rgb2ycbcr, bgr2ycbcr, ycbcr2rgb, ycbcr2bgr])
def test_bad_input(fn):
    with pytest.raises(ValueError, match='HxWx3'):
        fn(np.zeros((4, 4)))
    with pytest.raises(ValueError, match='dtype'):
        fn(np.zeros((4, 4, 3), np.int32))


def test_to_y_channel_bad_shape():
    with pytest.raises(ValueError, match='to_y_channel'):
        to_y_channel(np.zeros((4, 4, 4)))


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_the_y_kernel_equals_the_numpy_twin_bit_for_bit(dtype):
    from common.color import _to_y_reference
    rng = np.random.default_rng(7)
    img = (rng.random((300, 1000, 3)) * 255).astype(dtype)      # large enough to be shared over threads
    for view in (img, img[4:-4, 3:-5], img.transpose(1, 0, 2), img[::2, ::3]):
        for round_y in (False, True):
            np.testing.assert_array_equal(to_y_channel(view, round_y), _to_y_reference(view, round_y))


def test_without_numba_the_numpy_y_runs(monkeypatch):
    from common import color
    img = np.random.default_rng(8).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    expected = to_y_channel(img)
    monkeypatch.setattr(color, 'numba', None)
    monkeypatch.setattr(color, '_y_kernel', None)          # would raise if it were called
    np.testing.assert_array_equal(to_y_channel(img), expected)
