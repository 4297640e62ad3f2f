"""export.py: the frozen graph computes what the Session computes."""
import numpy as np
import pytest
import tensorflow as tf


def test_frozen_graph_output_equals_the_sessions(rcan, trained, tiny_flags, tmp_path, capsys):
    out, _, _ = trained
    ckpt = out / 'model' / 'RCAN_X2_16_1_2-24'
    flags = {k: v for k, v in tiny_flags.items() if k not in ('patch_size', 'batch_size', 'dataset_enlarge_ratio',
                                                              'learning_rate')}
    pb = tmp_path / 'rcan_x2.pb'
    rcan.export.main([f'--{k}={v}' for k, v in flags.items()] + [f'--pre_trained_model={ckpt}',
                                                                   f'--output_file={pb}'])
    assert f'frozen graph written to {pb}: input LR float32 [1, None, None, 3]' in capsys.readouterr().out
    lr = np.random.default_rng(2).integers(0, 256, (1, 11, 17, 3)).astype(np.float32)
    frozen_out, = rcan.freeze.run_frozen(pb, {'LR:0': lr}, ['output:0'])

    args = rcan.main.build_parser().parse_args([f'--{k}={v}' for k, v in flags.items()])
    graph = tf.Graph()
    with graph.as_default():
        model = rcan.RCA_net.RCA_net(args).build_graph(training=False)
    with tf.compat.v1.Session(graph=graph) as sess:
        rcan.checkpoint.restore_variables(sess, str(ckpt), model.weights(), model.weights())
        session_out = sess.run(model.output, {model.LR: lr})
    assert frozen_out.dtype == np.uint8 and frozen_out.shape == (1, 22, 34, 3)
    np.testing.assert_array_equal(frozen_out, session_out)
    ops = {node.op for node in tf.compat.v1.GraphDef.FromString(pb.read_bytes()).node}
    assert not ops & {'VarHandleOp', 'VariableV2', 'ReadVariableOp', 'Adam', 'ApplyAdam'}


def test_a_static_input_shape_and_bad_shapes(rcan):
    assert rcan.export.parse_shape('1,256,256,3') == [1, 256, 256, 3]
    assert rcan.export.parse_shape('-1,-1,-1,3') == [None, None, None, 3]
    for bad in ('1,256,256', '1,0,4,3', '1,4,4,1', 'a,b,c,3'):
        with pytest.raises(ValueError, match=f'--input_shape={bad}: expected N,H,W,3'):
            rcan.export.parse_shape(bad)
