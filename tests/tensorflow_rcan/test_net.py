"""The RCAN graph: output shapes, the default configuration's parameter count, the reference's names."""
import numpy as np
import pytest
import tensorflow as tf



def _count(variables):
    return sum(int(np.prod(v.shape.as_list())) for v in variables)


def _args(rcan, **flags):
    argv = [f'--{k}={v}' for k, v in flags.items()]
    return rcan.main.build_parser().parse_args(argv)


def _cheap_variables(getter, name, *args, **kwargs):
    """Create variables as plain zero-initialised ones: the same names and shapes, built twice as fast."""
    kwargs.update(initializer=tf.compat.v1.zeros_initializer(), use_resource=False)
    return getter(name, *args, **kwargs)


@pytest.fixture(scope='module')
def default_x2(rcan):
    """The default configuration (64 features, 10 groups x 20 RCABs) at x2: variable names and shapes."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.variable_scope('', custom_getter=_cheap_variables):
        rcan.RCA_net.RCA_net(_args(rcan)).build_graph(training=False)
        return {v.op.name: v.shape.as_list() for v in tf.compat.v1.trainable_variables()}


def test_default_parameter_count_is_the_architectures(default_x2):
    # published_numbers.md: 15,444,643 at x2, computed from the architecture (no mean-shift weights)
    assert sum(int(np.prod(s)) for s in default_x2.values()) == 15_444_643
    assert len(default_x2) == 2 * (1 + 10 * (20 * 4 + 1) + 1 + 1 + 1)


def test_variable_names_are_the_references(default_x2):
    expected = {'conv_SF/filter': [3, 3, 3, 64], 'conv_SF/bias': [64],
                'RG00_00_RCAB_conv1/filter': [3, 3, 64, 64], 'RG00_00_RCAB_conv2/bias': [64],
                'RG09_19_RCAB_CA_conv1/filter': [1, 1, 64, 4], 'RG09_19_RCAB_CA_conv2/filter': [1, 1, 4, 64],
                'RG09_conv_last/filter': [3, 3, 64, 64], 'conv_LSC/filter': [3, 3, 64, 64],
                'up_sample_conv00/filter': [3, 3, 64, 256], 'conv_rec/filter': [3, 3, 64, 3]}
    for name, shape in expected.items():
        assert default_x2[name] == shape, name


@pytest.mark.parametrize('scale, tail', [(2, ['up_sample_conv00']), (3, ['up_sample_conv']),
                                         (4, ['up_sample_conv00', 'up_sample_conv01'])])
def test_output_shapes_and_upsampler_names(rcan, tiny_flags, scale, tail):
    graph = tf.Graph()
    with graph.as_default():
        model = rcan.RCA_net.RCA_net(_args(rcan, **dict(tiny_flags, scale=scale))).build_graph(training=False)
        names = {v.op.name for v in tf.compat.v1.trainable_variables()}
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            lr = np.random.default_rng(0).integers(0, 256, (2, 10, 13, 3)).astype(np.float32)
            out, out_float = sess.run([model.output, model.output_float], {model.LR: lr})
    assert out.shape == (2, 10 * scale, 13 * scale, 3) and out.dtype == np.uint8
    assert out_float.shape == out.shape and out_float.dtype == np.float32
    assert {n.rsplit('/', 1)[0] for n in names if n.startswith('up_sample')} == set(tail)


def test_small_graph_count_matches_the_formula(rcan):
    f, groups, blocks, r = 16, 1, 2, 4
    graph = tf.Graph()
    with graph.as_default():
        rcan.RCA_net.rcan(tf.compat.v1.placeholder(tf.float32, [None, None, None, 3]), 3, f, groups, blocks, 3, r)
        count = _count(tf.compat.v1.trainable_variables())
    conv = lambda k, i, o: k * k * i * o + o   # noqa: E731
    block = 2 * conv(3, f, f) + conv(1, f, f // r) + conv(1, f // r, f)
    assert count == conv(3, 3, f) + groups * (blocks * block + conv(3, f, f)) + conv(3, f, f) \
        + conv(3, f, 9 * f) + conv(3, f, 3)


@pytest.mark.parametrize('scale', [1, 5, 8])
def test_unsupported_scales_are_one_clear_error(rcan, scale):
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
        with pytest.raises(ValueError, match=rf'--scale={scale}: the RCAN upsampler supports 2, 3, 4'):
            rcan.RCA_net.rcan(x, scale, 16, 1, 1, 3, 4)


def test_training_graph_has_the_references_tensors(rcan, tiny_flags):
    graph = tf.Graph()
    with graph.as_default():
        model = rcan.RCA_net.RCA_net(_args(rcan, **tiny_flags)).build_graph(training=True)
        names = {op.name for op in graph.get_operations()}
    assert {'LR', 'GT', 'learning_step', 'output', 'train_loss', 'train_RGB_PSNR'} <= names
    assert model.LR.dtype == tf.float32 and model.global_step.dtype == tf.int32


@pytest.mark.parametrize('scale, giga_macs', [(2, 3527), (3, 1587), (4, 916.9)])
def test_bench_conv_count_matches_the_published_macs(rcan, scale, giga_macs):
    # published_numbers.md: MACs of the conv layers at a 1280x720 output (default configuration)
    lr_pixels = (1280 // scale) * (720 // scale) if scale != 3 else 1280 * 720 / 9
    macs = rcan.bench.conv_macs_per_lr_pixel(scale, 64, 10, 20) * lr_pixels
    assert macs / 1e9 == pytest.approx(giga_macs, rel=1e-3)


def test_the_bench_bicubic_skip_adds_the_bicubic_upscale_and_travels_with_the_checkpoint(
        rcan, tiny_data, argv_for, tmp_path, monkeypatch):
    """With conv_rec zeroed a skip model's output is TensorFlow's bicubic upscale of its input; a run trained
    with --bicubic_skip is tested with it without the flag (the checkpoint's marker decides)."""
    lr = np.random.default_rng(2).uniform(0, 255, (1, 5, 6, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        net = rcan.RCA_net.RCA_net(_args(rcan, n_feats=8, n_RG=1, n_RCAB=1, ratio=4, scale=3, bicubic_skip=True))
        net.build_graph(training=False)
        zero = [v.assign(tf.zeros_like(v)) for v in tf.compat.v1.global_variables() if 'conv_rec' in v.op.name]
        want = tf.image.resize(lr, (15, 18), method='bicubic')
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        init = tf.compat.v1.global_variables_initializer()
    assert rcan.RCA_net.SKIP_MARK in names
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        sess.run(zero)
        assert np.array_equal(sess.run(net.output_float, {net.LR: lr}), sess.run(want))
    monkeypatch.chdir(tmp_path)
    rcan.main.main(argv_for(tiny_data, tmp_path / 'model', max_step=2, log_freq=1, model_save_freq=2,
                            bicubic_skip=True))
    args = _args(rcan, pre_trained_model=tmp_path / 'model')
    assert args.bicubic_skip is False
    rcan.RCA_net.adopt_checkpoint_skip(args, rcan.checkpoint.resolve_checkpoint(str(tmp_path / 'model')))
    assert args.bicubic_skip is True
    got = rcan.main.main(['--mode=test_only', f'--pre_trained_model={tmp_path / "model"}', '--result_path=sr',
                          f'--test_LR_path={tiny_data / "test_LR_bicubic" / "X2"}', '--n_feats=16', '--n_RG=1',
                          '--n_RCAB=2', '--ratio=4'])
    assert len(got['written']) == 2
