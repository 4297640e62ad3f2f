"""dataset.py / utils.py: training patches, the layouts, seeded order, the reference pipeline, test sets."""
import cv2
import numpy as np
import pytest
import torch


def test_patches_are_seeded_by_seed_epoch_and_index(rdn, tiny_data):
    source = rdn.dataset.FolderSource(tiny_data.div2k / 'DIV2K_train_HR', None, 4)
    patches = rdn.dataset.TrainPatches(source, patch_size=32, colour='rgb', seed=7, enlarge_ratio=2)
    assert len(patches) == 6
    lr, hr = patches[(3, 4)]
    assert lr.shape == (3, 8, 8) and hr.shape == (3, 32, 32) and lr.dtype == torch.float32
    again = rdn.dataset.TrainPatches(rdn.dataset.FolderSource(tiny_data.div2k / 'DIV2K_train_HR', None, 4),
                                     patch_size=32, colour='rgb', seed=7, enlarge_ratio=2)
    assert all(torch.equal(a, b) for a, b in zip(patches[(3, 4)], again[(3, 4)]))
    assert not torch.equal(patches[(3, 4)][1], patches[(4, 4)][1])          # another epoch, another crop


def test_lr_made_on_the_fly_equals_the_whole_image_bicubic(rdn, tiny_data):
    from common.data import bicubic_lr
    hr = cv2.imread(str(tiny_data.div2k / 'DIV2K_train_HR' / '0001.png'))     # 64 x 80
    whole = bicubic_lr(hr, 4)
    for y, x in [(0, 0), (3, 5), (8, 12), (0, 12)]:                           # borders and the interior
        patch = rdn.dataset.lr_patch_on_the_fly(hr, y, x, 4, 4)
        np.testing.assert_array_equal(patch, whole[y:y + 4, x:x + 4])


def test_stored_lr_and_on_the_fly_lr_give_the_same_patches(rdn, tiny_data):
    stored = rdn.dataset.FolderSource(tiny_data.div2k / 'DIV2K_train_HR',
                                      tiny_data.div2k / 'DIV2K_train_LR_bicubic' / 'X4', 4)
    made = rdn.dataset.FolderSource(tiny_data.div2k / 'DIV2K_train_HR', None, 4)
    a = rdn.dataset.TrainPatches(stored, 32, 'y', seed=1)
    b = rdn.dataset.TrainPatches(made, 32, 'y', seed=1)
    for key in [(0, 0), (1, 2)]:
        assert torch.equal(a[key][0], b[key][0]) and torch.equal(a[key][1], b[key][1])
    assert a[(0, 0)][0].shape == (1, 8, 8)


def test_the_eight_dihedral_augmentations_all_occur(rdn, tiny_data):
    from common.data import dihedral
    source = rdn.dataset.FolderSource(tiny_data.div2k / 'DIV2K_train_HR', None, 2)
    plain = rdn.dataset.TrainPatches(source, 16, 'rgb', seed=3, augment_flips=False)
    flipped = rdn.dataset.TrainPatches(source, 16, 'rgb', seed=3)
    modes = set()
    for index in range(40):
        lr0, hr0 = plain[(0, index)]
        lr1, hr1 = flipped[(0, index)]
        for mode in range(8):      # same crop position (drawn first), then one of the 8 transforms
            t = torch.from_numpy(np.ascontiguousarray(dihedral(hr0.numpy().transpose(1, 2, 0), mode)))
            if torch.equal(t.permute(2, 0, 1), hr1):
                modes.add(mode)
                break
    assert modes == set(range(8))


def test_layouts_div2k_lmdb_and_reference(rdn, tiny_data, tmp_path):
    from common.imgio import list_images
    from common.lmdb_io import make_lmdb
    hr_paths = list_images(tiny_data.div2k / 'DIV2K_train_HR')
    make_lmdb(hr_paths, [p.stem for p in hr_paths], tmp_path / 'DIV2K_train_HR.lmdb')
    lr_paths = list_images(tiny_data.div2k / 'DIV2K_train_LR_bicubic' / 'X4')
    make_lmdb(lr_paths, [p.stem for p in lr_paths], tmp_path / 'DIV2K_train_LR_bicubic_X4.lmdb')
    sets = {}
    for name, root in (('div2k', tiny_data.div2k), ('lmdb', tmp_path), ('ref', tiny_data.ref)):
        sets[name], how = rdn.utils.get_training_set(4, root, patch_size=32, colour='rgb', seed=2)
        assert len(sets[name]) == 3, how
    assert 'stored LR' in how or 'reference' in how or 'MATLAB' in how
    for key in [(0, 1), (2, 2)]:
        ref = sets['div2k'][key]
        for other in ('lmdb', 'ref'):
            assert all(torch.equal(a, b) for a, b in zip(ref, sets[other][key])), other


def test_epoch_sampler_follows_epoch_order_and_skips(rdn):
    from common.runs import epoch_order
    sampler = rdn.dataset.EpochSampler(10, seed=5)
    sampler.set_epoch(2)
    assert [i for _, i in sampler] == list(epoch_order(10, 5, 2))
    sampler.set_epoch(2, start_step=4)
    assert list(sampler) == [(2, int(i)) for i in epoch_order(10, 5, 2)[4:]] and len(sampler) == 6
    batched = rdn.dataset.EpochSampler(10, seed=5, batch=3)              # steps of 3 samples: skips 2 x 3
    batched.set_epoch(2, start_step=2)
    assert list(batched) == [(2, int(i)) for i in epoch_order(10, 5, 2)[6:]] and len(batched) == 4


def test_reference_pipeline_centre_crop_and_bilinear_lr(rdn, tiny_data, tmp_path):
    from PIL import Image
    img = np.random.default_rng(0).integers(0, 256, (300, 280, 3), dtype=np.uint8)
    (tmp_path / 'train').mkdir()
    cv2.imwrite(str(tmp_path / 'train' / 'a.png'), img)
    crops = rdn.dataset.ReferenceCrops(tmp_path / 'train', 3, 'y')
    lr, hr = crops[0]
    assert hr.shape == (1, 255, 255) and lr.shape == (1, 85, 85)                 # 256 - 256 % 3
    y = Image.open(tmp_path / 'train' / 'a.png').convert('YCbCr').split()[0]
    box = (12, 22, 12 + 255, 22 + 255)                                            # round((280-255)/2), round((300-255)/2)
    expected_hr = np.asarray(y.crop(box), np.float32) / 255
    expected_lr = np.asarray(y.crop(box).resize((85, 85), Image.BILINEAR), np.float32) / 255
    np.testing.assert_array_equal(hr[0].numpy(), expected_hr)
    np.testing.assert_array_equal(lr[0].numpy(), expected_lr)


def test_test_sets_set5_layout_uses_the_given_lr(rdn, tiny_data, tmp_path):
    images = rdn.dataset.load_test_images(tiny_data.set5, 4)
    assert [name for name, _, _ in images] == sorted(name for name, _, _ in images) and len(images) == 2
    for name, lr, hr in images:
        given = cv2.imread(str(tiny_data.set5 / 'LR_bicubic' / 'x4' / f'{name}_LRBI_x4.png'))
        np.testing.assert_array_equal(lr, given)
        assert hr.shape[0] == 4 * lr.shape[0] and hr.shape[1] == 4 * lr.shape[1]
    plain = rdn.dataset.load_test_images(tiny_data.ref / 'test', 4)
    assert [lr.shape for _, lr, _ in plain] == [lr.shape for _, lr, _ in images]


def test_tensor_image_round_trip(rdn, tiny_data):
    hr = cv2.imread(str(tiny_data.div2k / 'DIV2K_train_HR' / '0002.png'))
    assert np.array_equal(rdn.dataset.to_image(rdn.dataset.to_tensor(hr, 'rgb'), 'rgb'), hr)
    y = rdn.dataset.to_tensor(hr, 'y')
    assert y.shape == (1,) + hr.shape[:2] and 16 / 255 - 1e-6 <= float(y.min()) and float(y.max()) <= 235 / 255 + 1e-6


def test_bad_data_is_one_clear_error(rdn, tiny_data, tmp_path):
    from common.imgio import ImageError
    with pytest.raises(ImageError, match='no such folder'):
        rdn.utils.resolve_datapath(str(tmp_path / 'missing'))
    (tmp_path / 'empty' / 'train').mkdir(parents=True)
    with pytest.raises(ImageError, match='no images with extensions'):
        rdn.utils.get_training_set(4, tmp_path / 'empty')
    with pytest.raises(ImageError, match='no training images: expected'):
        rdn.utils.get_training_set(4, tmp_path)
    with pytest.raises(ImageError, match='Set5 layout without HR/x3'):
        rdn.dataset.load_test_images(tiny_data.set5, 3)
    with pytest.raises(ImageError, match=r'no LR image for 0001.png \(expected 0001x3'):
        rdn.dataset.FolderSource(tiny_data.div2k / 'DIV2K_train_HR', tiny_data.div2k / 'DIV2K_train_LR_bicubic' / 'X2', 3)
