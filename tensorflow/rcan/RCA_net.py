"""RCAN (Zhang et al., ECCV 2018) as a TF1 graph: the network function and the reference's model class.

``rcan()`` maps [N, h, w, 3] RGB in 0..255 to [N, scale * h, scale * w, 3] (float, not clipped):

    mean shift -> conv_SF -> num_group x (num_block x RCAB -> conv, + short skip) -> conv_LSC
    -> + long skip -> sub-pixel upsampler -> conv_rec -> mean shift back

``RCA_net`` builds what the reference's class builds, with the same tensor and placeholder names:
placeholders ``LR`` and ``GT`` (RGB, 0..255) and ``learning_step``, the L1 loss on the 0..255 scale,
``lr = exponential_decay(learning_rate, learning_step, decay_step, decay_rate, staircase=True)``,
Adam, the uint8 ``output`` (round(clip(x, 0, 255))), ``RGB_PSNR`` and the summaries ``train_loss`` and
``train_RGB_PSNR``. The optimizer is built only for training, and the training graph also holds the
step and the seconds trained (``train_state/*``) so that a checkpoint carries them.
"""
import tensorflow as tf

from ops import RGB_MEAN, SCALES, conv2d, mean_shift, residual_group, upsample
from tfzoo.trainer import TrainState

__all__ = ['rcan', 'RCA_net', 'check_scale', 'adopt_checkpoint_skip', 'TAIL_SCOPES', 'SKIP_MARK']

TAIL_SCOPES = ('up_sample', 'conv_rec')    # what x2 -> x3/x4 fine-tuning leaves out (--load_tail_part False)
SKIP_MARK = 'bicubic_skip'                 # the constant variable that marks a model with --bicubic_skip


def check_scale(scale):
    """Raise a one-line ValueError unless ``scale`` is one the upsampler builds (2, 3, 4)."""
    if scale not in SCALES:
        raise ValueError(f'--scale={scale}: the RCAN upsampler supports {", ".join(map(str, SCALES))}')


def rcan(x, upscale=2, num_feat=64, num_group=10, num_block=20, kernel_size=3, squeeze_factor=16,
         img_range=255.0, rgb_mean=RGB_MEAN, bicubic_skip=False):
    """The RCAN network (variables created in the current graph under the reference's names).

    Args:
        x (tf.Tensor): [N, h, w, 3] float32 RGB in 0..img_range.
        upscale (int): 2, 3 or 4. Default: 2.
        num_feat (int): Feature channels (``--n_feats``). Default: 64.
        num_group (int): Residual groups (``--n_RG``). Default: 10.
        num_block (int): RCABs per group (``--n_RCAB``). Default: 20.
        kernel_size (int): Conv kernel side (``--kernel_size``). Default: 3.
        squeeze_factor (int): Channel-attention reduction (``--ratio``). Default: 16.
        img_range (float): Pixel range of x. Default: 255.
        rgb_mean (tuple[float]): Dataset mean in [0, 1]. Default: DIV2K's (0.4488, 0.4371, 0.4040).
        bicubic_skip (bool): Not in the reference: add TensorFlow's bicubic upscale of ``x`` instead of
            the mean (the network learns the residual); creates the constant variable ``bicubic_skip``
            that marks such a model in its checkpoint. Default: False.

    Returns:
        tf.Tensor: [N, upscale * h, upscale * w, 3] float32, not clipped.
    """
    check_scale(upscale)
    if num_feat // squeeze_factor < 1:
        raise ValueError(f'--n_feats={num_feat} with --ratio={squeeze_factor}: the channel attention '
                         f'would have no channels (need n_feats >= ratio)')
    lr = x
    x = mean_shift(x, rgb_mean, -1, img_range)
    x = conv2d(x, 'conv_SF', num_feat, kernel_size)                   # [N, h, w, F]
    skip = x
    for g in range(num_group):
        x = residual_group(x, f'RG{g:02d}', num_block, kernel_size, squeeze_factor)
    x = skip + conv2d(x, 'conv_LSC', num_feat, kernel_size)
    x = upsample(x, 'up_sample', upscale, kernel_size)                 # [N, s*h, s*w, F]
    x = conv2d(x, 'conv_rec', 3, kernel_size)                          # [N, s*h, s*w, 3]
    if bicubic_skip:
        tf.compat.v1.get_variable(SKIP_MARK, [], tf.float32, trainable=False, initializer=tf.compat.v1.ones_initializer())
        return x + tf.image.resize(lr, tf.shape(lr)[1:3] * upscale, method='bicubic')
    return mean_shift(x, rgb_mean, +1, img_range)


def adopt_checkpoint_skip(args, prefix):
    """Build the network as the checkpoint ``prefix`` was trained: ``args.bicubic_skip`` = it holds the marker."""
    from tfzoo.checkpoint import checkpoint_shapes
    args.bicubic_skip = SKIP_MARK in checkpoint_shapes(prefix)


class RCA_net:
    """The reference's model object: graph tensors as attributes after :meth:`build_graph`.

    Args:
        args (argparse.Namespace): Uses scale, n_feats, n_RG, n_RCAB, kernel_size, ratio,
            learning_rate, decay_step, decay_rate.
    """

    def __init__(self, args):
        self.scale = args.scale
        self.n_feats, self.n_RG, self.n_RCAB = args.n_feats, args.n_RG, args.n_RCAB
        self.kernel_size, self.ratio = args.kernel_size, args.ratio
        self.learning_rate, self.decay_step, self.decay_rate = args.learning_rate, args.decay_step, args.decay_rate
        self.bicubic_skip = getattr(args, 'bicubic_skip', False)

    cluster = None          # a tfzoo.cluster.Cluster: training pushes gradients to a SyncAverager
    rank_size = 1           # Ascend HCCL devices (RANK_SIZE): the optimizer is NPUDistributedOptimizer

    def build_graph(self, training=True, inputs=None, lr_shape=(None, None, None, 3)):
        """Build the graph in the current default graph.

        Args:
            training (bool): Also build the loss's optimizer, the learning-rate schedule and the
                training state. Default: True.
            inputs (tuple[tf.Tensor, tf.Tensor] | None): (LR, GT) batches from a tf.data iterator; the
                placeholders ``LR``/``GT`` then default to them. Default: None (plain placeholders).
            lr_shape (tuple): Static shape of the ``LR`` placeholder (None = dynamic). Default: NHWC with
                only the 3 channels fixed.
        """
        shape = [None, None, None, 3]
        if inputs is None:
            self.LR = tf.compat.v1.placeholder(tf.float32, list(lr_shape), name='LR')
            self.GT = tf.compat.v1.placeholder(tf.float32, shape, name='GT')
        else:
            self.LR = tf.compat.v1.placeholder_with_default(inputs[0], shape, name='LR')
            self.GT = tf.compat.v1.placeholder_with_default(inputs[1], shape, name='GT')
        self.global_step = tf.compat.v1.placeholder(tf.int32, None, name='learning_step')

        sr = rcan(self.LR, self.scale, self.n_feats, self.n_RG, self.n_RCAB, self.kernel_size, self.ratio,
                  bicubic_skip=self.bicubic_skip)
        self.output_float = tf.identity(sr, name='output_float')
        self.loss = tf.reduce_mean(tf.abs(self.GT - sr), name='loss')
        self.output = tf.identity(tf.cast(tf.round(tf.clip_by_value(sr, 0.0, 255.0)), tf.uint8), name='output')
        if training:
            self._build_training()
        return self

    def _build_training(self):
        self.lr = tf.compat.v1.train.exponential_decay(self.learning_rate, self.global_step, self.decay_step,
                                                       self.decay_rate, staircase=True)
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=self.lr)
        if self.cluster is not None:             # between-graph data parallelism (tfzoo.cluster)
            from tfzoo.cluster import SyncAverager
            weights = tf.compat.v1.trainable_variables()
            grads = [g for g, _ in optimizer.compute_gradients(self.loss, var_list=weights)]
            self.averager = SyncAverager(self.cluster, weights)
            self.push = self.averager.push(grads)
            self.apply = optimizer.apply_gradients(zip(self.averager.mean_gradients(), weights))
        else:
            from tfzoo.cluster import hccl_optimizer
            self.train = hccl_optimizer(optimizer, self.rank_size).minimize(self.loss)
        self.RGB_PSNR = tf.reduce_mean(tf.image.psnr(self.output, tf.cast(self.GT, tf.uint8), max_val=255))
        tf.compat.v1.summary.scalar('train_loss', self.loss)
        tf.compat.v1.summary.scalar('train_RGB_PSNR', self.RGB_PSNR)
        self.state = TrainState()                # train_state/global_step and train_state/seconds

    def weights(self):
        """The network's trainable variables (what a test or an export restores)."""
        return tf.compat.v1.trainable_variables()
