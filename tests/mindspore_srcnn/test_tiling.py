"""src.utils.static_tiles / static_predictor: the one tiler of eval_onnx.py and the offline flow, per pixel."""
import numpy as np
import pytest

from common import paths
from common.imgio import read_image


@pytest.fixture(scope='module')
def eager(srcnn, random_checkpoint):
    """predict(Y) of the random network on a whole image, in PyNative mode."""
    import mindspore as ms
    ms.set_context(mode=ms.PYNATIVE_MODE)
    return srcnn.utils.ms_predictor(random_checkpoint[1])


@pytest.fixture(scope='module')
def photo_y(srcnn, tiny_images):
    """Y on [0, 1] of a 150x130 crop of a sample photo (larger than a 64x64 static shape both ways)."""
    src = sorted((paths.SAMPLE_DATA_DIR / 'benchmark' / 'SampleTest' / 'HR' / 'x2').glob('*.png'))[0]
    return srcnn.utils.y_of(read_image(src)[60:210, 80:210])


def static(srcnn, eager, height, width):
    """static_predictor around the eager network, as if it had a fixed height x width input."""
    def run(buf):
        assert buf.shape == (height, width) and buf.dtype == np.float32
        return eager(buf)
    return srcnn.utils.static_predictor(run, height, width)


@pytest.mark.parametrize('size, tile', [(150, 64), (130, 64), (64, 64), (65, 64), (1000, 512), (17, 17), (40, 64)])
def test_tiles_lie_inside_the_image_and_overlap_enough(srcnn, size, tile):
    tiles = srcnn.utils.static_tiles(size, size, tile, tile)
    starts = sorted({t['y0'] for t in tiles})
    kept = sorted({(t['keep_y0'], t['keep_y1']) for t in tiles})
    assert kept[0][0] == 0 and kept[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(kept, kept[1:]))                  # the kept parts partition the axis
    if size < tile:
        assert starts == [0]                                                  # one tile, padded past the far border
        return
    assert starts[0] == 0 and starts[-1] == size - tile                       # inside, the last flush with the border
    assert all(b - a <= tile - 16 for a, b in zip(starts, starts[1:]))        # overlap >= 2 x receptive radius 8
    for t in tiles:                                                           # kept pixels >= 8 px from inner edges
        assert t['keep_y0'] - t['y0'] >= (8 if t['y0'] > 0 else 0)
        assert t['y0'] + tile - t['keep_y1'] >= (8 if t['y0'] + tile < size else 0)


def test_static_path_equals_whole_image_inference(srcnn, eager, photo_y):
    assert photo_y.shape == (150, 130)
    got = static(srcnn, eager, 64, 64)(photo_y)
    np.testing.assert_allclose(got, eager(photo_y), rtol=0, atol=1e-5)
    got = static(srcnn, eager, 48, 100)(photo_y)                              # non-square static shape
    np.testing.assert_allclose(got, eager(photo_y), rtol=0, atol=1e-5)


@pytest.mark.parametrize('shape', [(40, 50), (150, 40), (40, 130)])
def test_smaller_than_the_static_shape_differs_only_near_the_padded_border(srcnn, eager, photo_y, shape):
    y = np.ascontiguousarray(photo_y[:shape[0], :shape[1]])
    diff = np.abs(static(srcnn, eager, 64, 64)(y) - eager(y))
    far_h = shape[0] - 8 if shape[0] < 64 else shape[0]                        # rows more than 8 px from the padding
    far_w = shape[1] - 8 if shape[1] < 64 else shape[1]
    assert diff[:far_h, :far_w].max() <= 1e-5
    assert diff.max() > 1e-5          # the zero padding is seen next to the border (the network has no biases)


def test_a_static_shape_too_small_to_tile_exactly_is_refused(srcnn):
    with pytest.raises(ValueError, match='model input height 16 is too small to tile a 40x10 image exactly'):
        srcnn.utils.static_tiles(40, 10, 16, 16)
    assert len(srcnn.utils.static_tiles(16, 10, 16, 16)) == 1                  # fits: no tiling needed
