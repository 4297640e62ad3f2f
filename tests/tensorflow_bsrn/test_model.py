"""models/bsrn.py: the released checkpoint's names and shapes, shapes per scale, loss and ensemble weights."""
import numpy as np
import pytest
import tensorflow as tf

v1 = tf.compat.v1


@pytest.fixture(scope='module')
def full_graph(bsrn):
    """The reference-size multi-scale model (c 64, s 64, R 16, x2/x3/x4) with its training ops."""
    graph = tf.Graph()
    with graph.as_default():
        ops = bsrn.net.build_training(bsrn.net.BSRN((2, 3, 4)), clip_norm=5)
    return graph, ops


def test_variables_equal_the_released_checkpoint_index(full_graph, bsrn, released):
    graph, ops = full_graph
    with graph.as_default():
        ours = {v.op.name: v.shape.as_list() for v in v1.global_variables()}
    released = dict(tf.train.list_variables(str(released)))
    assert ours == {k: list(v) for k, v in released.items()}          # weights, Adam slots and powers
    generator = [v for v in ops['weights']]
    assert len(generator) == 22 and bsrn.net.count_parameters(generator) == 1225225


def test_output_shapes_per_scale_and_a_scale_not_built_for(bsrn):
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        net = bsrn.net.BSRN((2, 3, 4), 8, 8, 3)
        io = net.build_inference()
        init = v1.global_variables_initializer()
    lr = np.random.default_rng(0).uniform(0, 255, (2, 7, 9, 3)).astype(np.float32)
    with v1.Session(graph=graph) as sess:
        sess.run(init)
        for s in (2, 3, 4):
            outs, ens = sess.run([io['outputs'], io['ensemble']], {io['input']: lr, io['scale']: s})
            assert len(outs) == 3 and all(o.shape == (2, 7 * s, 9 * s, 3) for o in outs)
            assert ens.shape == (2, 7 * s, 9 * s, 3)
            np.testing.assert_allclose(ens, np.clip(bsrn.net.ensemble(outs), 0, 255), atol=1e-3)
        with pytest.raises(tf.errors.OpError):
            sess.run(io['ensemble'], {io['input']: lr, io['scale']: 8})
    with pytest.raises(ValueError, match='unsupported scale 5'):
        bsrn.net.BSRN((2, 5))


def test_loss_and_ensemble_weights_by_hand(bsrn):
    np.testing.assert_allclose(bsrn.net.loss_weights(3), [1 / 7, 2 / 7, 4 / 7])
    np.testing.assert_allclose(bsrn.net.loss_weights(2, recursion_frequency=2), [2 / 10, 8 / 10])
    np.testing.assert_allclose(bsrn.net.ensemble_weights(3), [0.25 / 1.75, 0.5 / 1.75, 1 / 1.75])
    outs = [np.full((1, 1), 7.0), np.full((1, 1), 14.0), np.full((1, 1), 21.0)]
    assert bsrn.net.ensemble(outs)[0, 0] == pytest.approx((7 + 28 + 84) / 7)


def test_recursions_by_hand(bsrn):
    """One recursion with c = s = 1 and hand-set kernels equals the formulas of the module docstring."""
    graph = tf.Graph()
    with graph.as_default():
        net = bsrn.net.BSRN((2,), 1, 1, 2, rgb_mean=(0, 0, 0))
        p = net.create_variables()
        x = v1.placeholder(tf.float32, [1, 1, 1, 3])
        feats = net._features(p, x)
        init = v1.global_variables_initializer()
    def centre(cin, cout, values):       # 3x3 kernels whose only non-zero tap is the centre
        k = np.zeros((3, 3, cin, cout), np.float32)
        k[1, 1] = np.array(values, np.float32).reshape(cin, cout)
        return k
    with v1.Session(graph=graph) as sess:
        sess.run(init)
        sess.run([p['first_conv'][0].assign(centre(3, 1, [1, 0, 0])),
                  p['block'][0][0].assign(centre(2, 2, [[1, 0], [0, 1]])), p['block'][0][1].assign([-1.0, 0]),
                  p['block'][1][0].assign(centre(2, 2, [[2, 1], [0, 0]])), p['block'][1][1].assign([0.0, 0]),
                  p['module'][0].assign(centre(2, 2, [[0.5, 0], [0, 1]])), p['module'][1].assign([0.0, 1])])
        got = [float(f.ravel()[0]) for f in sess.run(feats, {x: [[[[3.0, 0, 0]]]]})]
    def recursion(xv, state):
        h = np.maximum(np.array([xv, state]) @ np.eye(2) + [-1, 0], 0)
        res = h @ np.array([[2, 1], [0, 0]])
        xv, state = xv + res[0], res[1]
        res = np.array([xv, state]) @ np.array([[0.5, 0], [0, 1]]) + [0, 1]
        return xv + res[0], res[1]
    x1, s1 = recursion(3.0, 0.0)
    x2, _ = recursion(x1, s1)
    assert got == pytest.approx([x1, x2])


def test_per_scale_train_ops_equal_the_reference_tf_case_graph(bsrn):
    """Three Adam steps (x2, x4, x2) through build_training's per-scale ops give every variable (weights,
    both Adam slots, the powers) the values of the reference's graph: one tf.case on the scale placeholder,
    whose untaken branch gets zero gradients."""
    rng = np.random.default_rng(3)
    steps = [(s, rng.uniform(0, 255, (2, 6, 5, 3)).astype(np.float32),
              rng.uniform(0, 255, (2, 6 * s, 5 * s, 3)).astype(np.float32)) for s in (2, 4, 2)]

    def run(build):
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(5)
            net = bsrn.net.BSRN((2, 4), 4, 3, 2)
            feed_ops, train_for = build(net)
            variables = sorted(v1.global_variables(), key=lambda v: v.op.name)
            init = v1.global_variables_initializer()
        with v1.Session(graph=graph) as sess:
            sess.run(init)
            for s, lr, hr in steps:
                sess.run(train_for(s), feed_ops(s, lr, hr))
            return {v.op.name: value for v, value in zip(variables, sess.run(variables))}

    def ours(net):
        ops = bsrn.net.build_training(net, 1e-3, clip_norm=5)
        return (lambda s, lr, hr: {ops['input']: lr, ops['truth']: hr, ops['global_step']: 0}), \
            (lambda s: ops['train'][s])

    def reference(net):
        x = v1.placeholder(tf.float32, [None, None, None, 3])
        truth = v1.placeholder(tf.float32, [None, None, None, 3])
        scale = v1.placeholder(tf.float32, [])
        outs = net.build(x, scale)
        w = bsrn.net.loss_weights(len(outs))
        loss = tf.add_n([float(wi) * tf.reduce_mean(tf.abs(o - truth)) for wi, o in zip(w, outs)])
        opt = v1.train.AdamOptimizer(1e-3, epsilon=1e-8)
        grads = [(tf.clip_by_norm(g, 5), v) for g, v in opt.compute_gradients(loss)]
        train_op = opt.apply_gradients(grads)
        return (lambda s, lr, hr: {x: lr, truth: hr, scale: float(s)}), (lambda s: train_op)

    got, want = run(ours), run(reference)
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=2e-5, atol=1e-6, err_msg=name)


def test_the_bench_bicubic_skip_adds_the_bicubic_upscale_and_is_marked_in_the_variables(bsrn):
    """With the last convolutions zeroed, every output of a skip model is TensorFlow's bicubic upscale of
    the input (at a tensor scale and at a Python one); the reference model has no marker variable."""
    lr = np.random.default_rng(1).uniform(0, 255, (1, 6, 7, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        net = bsrn.net.BSRN((2, 3), 8, 8, 2, bicubic_skip=True)
        params = net.create_variables()
        io = net.build_inference(params)
        fixed = net.build(tf.constant(lr), 3, params)
        zero = [v.assign(tf.zeros_like(v)) for v in v1.global_variables() if '/last_conv/' in v.op.name]
        bicubic = {s: tf.image.resize(lr, (6 * s, 7 * s), method='bicubic') for s in (2, 3)}
        names = [v.op.name for v in v1.global_variables()]
        init = v1.global_variables_initializer()
    assert bsrn.net.SKIP_MARK in names
    with v1.Session(graph=graph) as sess:
        sess.run(init)
        sess.run(zero)
        for s in (2, 3):
            want = sess.run(bicubic[s])
            outs = sess.run(io['outputs'], {io['input']: lr, io['scale']: s})
            assert len(outs) == 2 and all(np.array_equal(o, want) for o in outs)
        assert np.array_equal(sess.run(fixed)[0], sess.run(bicubic[3]))
    graph = tf.Graph()
    with graph.as_default():
        bsrn.net.BSRN((2, 3), 8, 8, 2).create_variables()
        assert not [v for v in v1.global_variables() if v.op.name == bsrn.net.SKIP_MARK]
