"""test.py's input as the reference takes it, and what a careless input meets (issue 18): outputs
inside the inputs, a corrupt picture among good ones, earlier outputs, a run that fails early."""
import shutil

import cv2
import numpy as np
import pytest

from common.imgio import read_image
from common.imresize import imresize


def _pictures(tiny_images, folder):
    folder.mkdir()
    for src in sorted(tiny_images.glob('*.png')):
        shutil.copy(src, folder / src.name)
    return folder


def test_enlarge_false_runs_the_network_on_the_picture_as_given(srcnn, tiny_images, random_checkpoint, tmp_path,
                                                                 run_main):
    src = sorted(tiny_images.glob('*.png'))[0]
    given = tmp_path / 'given'
    given.mkdir()
    cv2.imwrite(str(given / src.name), imresize(read_image(src), scale=2))     # a reference user's enlarged input
    ckpt = random_checkpoint[0]
    run_main(srcnn.test, {'data_path': given, 'checkpoint_path': ckpt, 'result_path': tmp_path / 'ref',
                          'enlarge': False})
    run_main(srcnn.test, {'data_path': tiny_images, 'test_pic': src.name, 'checkpoint_path': ckpt,
                          'result_path': tmp_path / 'new'})
    as_given = read_image(tmp_path / 'ref' / f'{src.stem}_srcnn_x2.png')
    enlarged_here = read_image(tmp_path / 'new' / f'{src.stem}_srcnn_x2.png')
    assert as_given.shape == read_image(given / src.name).shape              # not enlarged a second time
    np.testing.assert_array_equal(as_given, enlarged_here)                   # the same pixels either way


@pytest.mark.parametrize('where', ['same', 'inside'])
def test_result_path_in_the_input_folder_is_refused(srcnn, tiny_images, random_checkpoint, tmp_path, run_main, where):
    pics = _pictures(tiny_images, tmp_path / 'pics')
    result = pics if where == 'same' else pics / 'out'
    with pytest.raises(ValueError, match=f'--result_path={result} (is|lies inside) --data_path={pics}'):
        run_main(srcnn.test, {'data_path': pics, 'checkpoint_path': random_checkpoint[0], 'result_path': result})
    assert sorted(p.name for p in pics.iterdir()) == sorted(p.name for p in tiny_images.glob('*.png'))


def test_a_corrupt_picture_writes_nothing(srcnn, tiny_images, random_checkpoint, tmp_path, run_main):
    pics = _pictures(tiny_images, tmp_path / 'pics')
    (pics / 'zzz_broken.png').write_bytes(b'\x89PNG\r\n\x1a\nbroken')       # sorted last: the others come first
    with pytest.raises(ValueError, match='zzz_broken.png'):
        run_main(srcnn.test, {'data_path': pics, 'checkpoint_path': random_checkpoint[0],
                              'result_path': tmp_path / 'out'})
    assert not (tmp_path / 'out').exists()


def test_earlier_outputs_are_kept_without_overwrite(srcnn, tiny_images, random_checkpoint, tmp_path, run_main):
    args = {'data_path': tiny_images, 'checkpoint_path': random_checkpoint[0], 'result_path': tmp_path / 'out'}
    first = run_main(srcnn.test, args)
    first[0].write_bytes(b'an earlier output')
    with pytest.raises(FileExistsError, match=f'{first[0].name} exists .*pass --overwrite=True'):
        run_main(srcnn.test, args)
    assert first[0].read_bytes() == b'an earlier output'
    run_main(srcnn.test, dict(args, overwrite=True))
    assert read_image(first[0]).ndim == 3

    name = tmp_path / 'srcnn'
    name.with_suffix('.mindir').write_bytes(b'earlier')
    export = {'checkpoint_path': random_checkpoint[0], 'file_name': name, 'image_height': 16, 'image_width': 16}
    with pytest.raises(FileExistsError, match=r'srcnn\.mindir exists; pass --overwrite=True'):
        run_main(srcnn.export, export)
    assert name.with_suffix('.mindir').read_bytes() == b'earlier'
    assert run_main(srcnn.export, dict(export, overwrite=True)).stat().st_size > 1000


@pytest.fixture(scope='module')
def records(srcnn, tiny_images, tmp_path_factory):
    """A built mindrecord folder (two tiny photos)."""
    out = tmp_path_factory.mktemp('records') / 'mindrecord'
    srcnn.create_dataset.build_mindrecord(tiny_images, out, scale=2, patch_size=33, stride=11, progress=False)
    return out


def test_output_path_inside_the_mindrecord_folder_is_refused(srcnn, records, run_main):
    before = sorted(p.name for p in records.iterdir())
    with pytest.raises(ValueError, match=f'--output_path={records / "run"} lies inside --data_path={records}'):
        run_main(srcnn.train, {'data_path': records, 'output_path': records / 'run'})
    assert sorted(p.name for p in records.iterdir()) == before


def test_a_run_that_fails_early_leaves_no_output_folder(srcnn, records, tmp_path, run_main):
    out = tmp_path / 'new' / 'run'
    with pytest.raises(ValueError, match='no checkpoint'):
        run_main(srcnn.train, {'data_path': records, 'output_path': out, 'resume': True})
    with pytest.raises(FileNotFoundError, match='pre_trained_path'):
        run_main(srcnn.train, {'data_path': records, 'output_path': out, 'pre_trained_path': tmp_path / 'none.ckpt'})
    assert not (tmp_path / 'new').exists()
