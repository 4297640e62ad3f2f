"""Speed yardsticks for the TF benches: a dense convolution's throughput measured in the same process.

A bench divides its training conv FLOP/s by :func:`dense_conv_gflops` (same Session config, same
thread pools, same moment) to report a machine-independent efficiency ratio.
"""
import tensorflow as tf

from common.timing import calls_per_second

__all__ = ['dense_conv_gflops']


def dense_conv_gflops(config, seconds=3.0, shape=(16, 128, 128, 64)):
    """Forward GFLOP/s of one 3x3 convolution (C -> C channels) on a batch of ``shape`` in a TF1 Session.

    Args:
        config (tf.compat.v1.ConfigProto): Session config (the bench's, so thread pools match).
        seconds (float): How long to time it. Default: 3.0.
        shape (tuple[int]): NHWC input; the conv keeps C channels. Default: (16, 128, 128, 64).

    Returns:
        float: GFLOP/s (2 FLOPs per multiply-accumulate).
    """
    n, h, w, c = shape
    graph = tf.Graph()
    with graph.as_default():
        x = tf.Variable(tf.random.uniform(shape, seed=0))          # variables: nothing to constant-fold
        k = tf.Variable(tf.random.uniform((3, 3, c, c), seed=1))
        y = tf.reduce_sum(tf.nn.conv2d(x, k, 1, 'SAME'))
        init = tf.compat.v1.global_variables_initializer()
    flops = 2.0 * n * h * w * c * c * 9
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        return flops * calls_per_second(lambda: sess.run(y), seconds) / 1e9
