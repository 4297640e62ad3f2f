"""common.inference: tiled prediction equals whole-image prediction; the x8 self-ensemble."""
import cv2
import numpy as np
import pytest

from common.inference import self_ensemble, tile_layout, tiled_predict


def _img(h, w, c=3, seed=0):
    shape = (h, w, c) if c else (h, w)
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _box(x, k):
    """k x k mean filter with a mirrored border, like a padded conv layer."""
    return cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT_101)


def box5_nearest(scale):
    return lambda x: np.repeat(np.repeat(_box(x, 5), scale, axis=0), scale, axis=1)


def box5_bicubic(scale):
    def predict(x):
        h, w = x.shape[:2]
        return cv2.resize(_box(x, 5), (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    return predict


@pytest.mark.parametrize('size', [1, 5, 31, 32, 33, 100, 257])
@pytest.mark.parametrize('tile,overlap', [(32, 8), (32, 0), (16, 15)])
def test_tile_layout_partitions_the_axis(size, tile, overlap):
    layout = tile_layout(size, tile, overlap)
    length = min(tile, size)
    assert layout[0][1] == 0 and layout[-1][2] == size
    for (s0, _, e0), (s1, b1, _) in zip(layout, layout[1:]):
        assert e0 == b1                                            # kept ranges touch, no gap or overlap
        assert s0 + length - s1 >= overlap                         # neighbours overlap enough
    for i, (start, begin, end) in enumerate(layout):
        assert 0 <= start and start + length <= size and start <= begin < end <= start + length
        if i > 0:
            assert begin - start >= overlap // 2                  # far from the inner left edge
        if i < len(layout) - 1:
            assert start + length - end >= overlap // 2          # far from the inner right edge


@pytest.mark.parametrize('make_predict', [box5_nearest, box5_bicubic])
@pytest.mark.parametrize('scale', [1, 3])
def test_tiled_equals_whole_image(make_predict, scale):
    img = _img(75, 118)                                            # not a multiple of the tile step
    predict = make_predict(scale)
    calls = []

    def counting(x):
        calls.append(x.shape)
        return predict(x)
    out = tiled_predict(counting, img, scale, tile=32, overlap=12)
    assert out.shape == (75 * scale, 118 * scale, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, predict(img), rtol=0, atol=1e-5)
    assert len(calls) == 4 * 6 and set(calls) == {(32, 32, 3)}


def test_tiled_gray_and_small_images():
    img = _img(40, 21, c=None)
    predict = box5_nearest(2)
    np.testing.assert_allclose(tiled_predict(predict, img, 2, tile=16, overlap=8), predict(img), atol=1e-5)
    # An image smaller than one tile is a single call on the whole image.
    small = _img(10, 12)
    np.testing.assert_array_equal(tiled_predict(predict, small, 2, tile=64, overlap=8), predict(small))


def test_tiles_show_seams_when_the_receptive_field_exceeds_the_overlap():
    img = _img(64, 64)
    wide = lambda x: _box(x, 21)                                   # reaches 10 px, overlap // 2 is 2
    assert np.abs(tiled_predict(wide, img, 1, tile=24, overlap=4) - wide(img)).max() > 1e-3


def test_tiled_predict_keeps_integer_outputs_and_checks_shapes():
    img = (_img(50, 50) * 255).astype(np.uint8)
    up = lambda x: np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)
    out = tiled_predict(up, img, 2, tile=16, overlap=4)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, up(img))
    with pytest.raises(ValueError, match=r'mapped a 16x16 tile to shape \(32, 32, 3\), expected \(48, 48'):
        tiled_predict(up, img, 3, tile=16, overlap=4)
    with pytest.raises(ValueError, match='overlap < tile'):
        tiled_predict(up, img, 2, tile=16, overlap=16)
    with pytest.raises(ValueError, match='positive integer'):
        tiled_predict(up, img, 1.5)


def test_self_ensemble_identity_is_exact():
    img = (_img(7, 11) * 255).astype(np.uint8)
    out = self_ensemble(lambda x: x, img)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, img)
    f32 = _img(7, 11)
    out = self_ensemble(lambda x: x.copy(), f32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, f32)


def test_self_ensemble_of_an_equivariant_model_is_the_plain_prediction():
    img = _img(20, 33)
    predict = box5_nearest(2)                                      # symmetric kernel and border, nearest upscale
    np.testing.assert_allclose(self_ensemble(predict, img), predict(img), atol=1e-6)


def test_self_ensemble_averages_a_non_equivariant_model():
    img = _img(20, 33)
    seen = []

    def shift(x):                                                  # not equivariant: moves content right
        seen.append(x.flags['C_CONTIGUOUS'])
        return np.roll(x, 1, axis=1)
    out = self_ensemble(shift, img)
    assert len(seen) == 8 and all(seen)
    assert np.abs(out - shift(img)).max() > 0.1
    # Rolls right, left, down and up, two of each: the mean of the four neighbours.
    neighbours = sum(np.roll(img, d, axis=a) for a in (0, 1) for d in (1, -1)) / 4
    np.testing.assert_allclose(out, neighbours, atol=1e-6)


def test_tiles_inside_the_ensemble():
    img = _img(45, 37)
    predict = box5_bicubic(2)
    tiled = self_ensemble(lambda x: tiled_predict(predict, x, 2, tile=24, overlap=12), img)
    np.testing.assert_allclose(tiled, self_ensemble(predict, img), atol=1e-5)
