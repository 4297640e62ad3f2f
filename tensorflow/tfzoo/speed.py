"""The TensorFlow side of the speed yardstick (docs/protocol.md, "Speed yardstick").

:func:`dense_conv` times the yardstick convolution (``common.bench.YARDSTICK``: 3x3, 64 -> 64 channels,
batch 16 x 64 x 64) in a TF1 Session with the bench's own config (so its thread pools), in both data
formats TensorFlow offers, NHWC and NCHW (on the CPU NCHW needs oneDNN; where it does not run it is left
out), and keeps the faster (``common.bench.yardstick``). Its graph is its own, so it consumes no random
numbers of the bench's.
"""
import functools

import tensorflow as tf

from common.bench import YARDSTICK, yardstick
from common.timing import best_calls_per_second

__all__ = ['LAYOUTS', 'dense_conv']

LAYOUTS = ('NHWC', 'NCHW')


def _calls_per_second(config, mode, layout, seconds):
    y = YARDSTICK
    n, c, h, w = y['batch'], y['channels'], y['height'], y['width']
    shape = (n, h, w, c) if layout == 'NHWC' else (n, c, h, w)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.Variable(tf.random.uniform(shape, seed=0))          # variables: nothing to constant-fold
        k = tf.Variable(tf.random.uniform((y['kernel'], y['kernel'], c, c), seed=1))
        out = tf.nn.conv2d(x, k, 1, 'SAME', data_format=layout)
        # Fetched as sums: an op that nothing fetches is pruned from the run, and a sum costs < 0.1%.
        if mode == 'train':
            grad = tf.Variable(tf.random.uniform(shape, seed=2))   # a dense output gradient
            step = [tf.reduce_sum(g) for g in tf.gradients(out, [x, k], grad_ys=grad)]
        else:
            step = tf.reduce_sum(out)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        try:
            sess.run(step)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            return None                                          # this format does not run on this device
        return best_calls_per_second(lambda: sess.run(step), seconds=seconds)


def dense_conv(config, mode, precision='fp32', seconds=1.0):
    """The yardstick's GFLOP/s in this process: forward + backward ('train') or forward ('infer').

    Args:
        config (tf.compat.v1.ConfigProto): The bench's Session config (same thread pools).
        mode (str): 'train' or 'infer'.
        precision (str): Only 'fp32' (the TF benches train and infer in float32). Default: 'fp32'.
        seconds (float): Each of the 3 timing windows per data format (the fastest counts). Default: 1.0.

    Returns:
        dict: ``common.bench.fastest``'s figure: gflops, layout ('NHWC' or 'NCHW'), precision and every
        format's GFLOP/s under 'measured' (None where it does not run).
    """
    if precision != 'fp32':
        raise ValueError(f"the TensorFlow yardstick is measured in fp32, got {precision!r}")
    threads = config.intra_op_parallelism_threads or 'all'
    return yardstick(mode, precision, {layout: functools.partial(_calls_per_second, config, mode, layout, seconds)
                                       for layout in LAYOUTS},
                     f'tensorflow {tf.__version__}, intra-op threads {threads}')
