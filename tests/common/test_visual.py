"""Side-by-side comparison images."""
import numpy as np
import pytest

from common.imgio import read_image
from common.visual import detail_box, side_by_side, write_comparison


def test_detail_box_finds_the_textured_window():
    img = np.full((60, 80), 128, np.uint8)
    rng = np.random.default_rng(0)
    img[30:50, 50:70] = rng.integers(0, 255, (20, 20))    # the only texture
    y, x, size = detail_box(img, 20)
    assert size == 20 and abs(y - 30) <= 2 and abs(x - 50) <= 2
    assert detail_box(img, 500)[2] == 60                   # clamped to the image


def test_side_by_side_layout_and_file(tmp_path):
    a = np.zeros((40, 50, 3), np.uint8)
    b = np.full((40, 50), 200, np.uint8)
    out = side_by_side([a, b], ['bicubic', 'model'], tmp_path / 'cmp.png', box=(5, 10, 20), zoom=3, gap=4)
    assert out.shape == (22 + 60, 60 + 4 + 60, 3)
    assert np.array_equal(read_image(tmp_path / 'cmp.png'), out)
    assert (out[22:, :60] == 0).all() and (out[22:, 64:] == 200).all()   # panel contents, zoomed crop
    assert [p.name for p in tmp_path.iterdir()] == ['cmp.png']


def test_side_by_side_rejects_mismatched_panels(tmp_path):
    with pytest.raises(ValueError, match='differ in size'):
        side_by_side([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], ['a', 'b'], tmp_path / 'x.png')
    with pytest.raises(ValueError, match='2 panels but 1 labels'):
        side_by_side([np.zeros((4, 4, 3), np.uint8)] * 2, ['a'], tmp_path / 'x.png')
    with pytest.raises(ValueError, match='float32'):
        side_by_side([np.zeros((4, 4, 3), np.float32)], ['a'], tmp_path / 'x.png')
    assert not (tmp_path / 'x.png').exists()


def test_write_comparison_cuts_panels_to_their_common_size_and_crops_the_reference(tmp_path):
    hr = np.full((40, 50, 3), 128, np.uint8)
    hr[20:36, 30:46] = np.random.default_rng(0).integers(0, 255, (16, 16, 3))      # the detail to show
    sr = hr[:38, :48]                                                             # a model 2 px short
    out = write_comparison(tmp_path / 'c.png', [hr, sr, hr], ['bicubic', 'model', 'HR'], crop=16, zoom=2)
    assert out.shape == (22 + 32, 3 * 32 + 2 * 4, 3)
    assert np.array_equal(out[22:, :32], out[22:, -32:])                          # the same window in each
    assert out[22:, :32].std() > 20                                               # and it is the textured one
    assert (tmp_path / 'c.png').is_file()
