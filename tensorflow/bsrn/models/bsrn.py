"""BSRN (Choi et al., "Lightweight and efficient image super-resolution with block state-based
recursive network", arXiv 1811.12546) as a TF1 graph: ``tf.compat.v1`` variables and ``tf.nn`` ops.

One multi-scale network (``scales``, e.g. (2, 3, 4)) whose scale is chosen at run time by the scalar
placeholder ``sr_input_scale``. Shapes (N images, LR size H x W, c conv and s state features)::

    sr_input [N, H, W, 3] (0..255)  - rgb_mean
    first_conv 3x3 3 -> c                                   x      [N, H, W, c]; state zeros [N, H, W, s]
    R recursions of ONE residual module (shared weights):
        local block: concat(x, state) -> conv 3x3 (c+s -> c+s) -> ReLU -> conv 3x3 -> split
                     x += res_x, state = res_s
        module conv: concat(x, state) -> conv 3x3 (c+s -> c+s) -> split; x += res_x, state = res_s
    every r-th x (an intermediate output) -> upscale/x{scale} (conv c -> 4c or 9c, ReLU, depth_to_space;
        x4 = two x2 stages) -> last_conv/x{scale} (conv c -> 3) + rgb_mean      [N, sH, sW, 3]

Variable names follow the reference's ``tf.layers.conv2d`` naming (``generator/first_conv/conv2d/kernel``,
``generator/residual_modules/conv2d_1/bias``, ``generator/upscale/x4/conv2d_1/kernel``, ...), so the
authors' released ``bsrn_c64_s64_x234.ckpt`` restores as it is. Variables are created before the
``tf.case`` on the scale (a branch only reads them). The intermediate outputs are upscaled as one
batch (concatenated along N, then split): the same arithmetic as the reference's one case per output.
"""
import math

import numpy as np
import tensorflow as tf

__all__ = ['BSRN', 'SUPPORTED_SCALES', 'SKIP_MARK', 'INPUT_NAME', 'INPUT_SCALE_NAME', 'OUTPUT_NAME', 'ensemble_weights',
           'ensemble', 'loss_weights', 'count_parameters']

SUPPORTED_SCALES = (2, 3, 4, 8)
INPUT_NAME = 'sr_input'               # the reference's BaseModel.TF_INPUT_NAME
INPUT_SCALE_NAME = 'sr_input_scale'   # BaseModel.TF_INPUT_SCALE_NAME
OUTPUT_NAME = 'sr_output'             # this port's name of the in-graph ensemble (frozen graphs)
SKIP_MARK = 'generator/bicubic_skip'  # the variable that marks a model with the bench's bicubic skip
v1 = tf.compat.v1


def loss_weights(num_outputs, recursion_frequency=1):
    """Weights of the intermediate outputs' L1 losses: ``2^(m-1)`` for output m recursions deep, normalised.

    Args:
        num_outputs (int): Intermediate outputs (recursions // recursion_frequency).
        recursion_frequency (int): Recursions between two outputs ('r'). Default: 1.

    Returns:
        np.ndarray: float64 weights summing to 1, shallowest output first.
    """
    w = np.array([2.0 ** ((i + 1) * recursion_frequency - 1) for i in range(num_outputs)])
    return w / w.sum()


def ensemble_weights(num_outputs):
    """Weights of the reference's inference ensemble over the intermediate outputs.

    Output t (1-based) of T gets ``1 / 2^(T - t)``, normalised: the same relative weights as the loss
    at ``recursion_frequency`` 1 (the deepest output counts most).

    Args:
        num_outputs (int): Number of intermediate outputs T.

    Returns:
        np.ndarray: float64 weights summing to 1, first output first.
    """
    w = np.array([1.0 / 2.0 ** (num_outputs - t) for t in range(1, num_outputs + 1)])
    return w / w.sum()


def ensemble(outputs):
    """The weighted sum of intermediate outputs (a list of equally shaped arrays), float64."""
    weights = ensemble_weights(len(outputs))
    return sum(w * np.asarray(o, np.float64) for w, o in zip(weights, outputs))


def count_parameters(variables):
    """Total number of values in ``variables``."""
    return int(sum(np.prod(v.shape.as_list()) for v in variables))


def _conv_vars(scope, cin, cout, initializer=None):
    """``{scope}/kernel`` [3, 3, cin, cout] and ``{scope}/bias`` [cout] (tf.layers.conv2d's defaults:
    Glorot-uniform kernel unless ``initializer`` is given, zero bias)."""
    with v1.variable_scope(scope):
        kernel = v1.get_variable('kernel', [3, 3, cin, cout], tf.float32,
                                 initializer=initializer or v1.glorot_uniform_initializer())
        bias = v1.get_variable('bias', [cout], tf.float32, initializer=v1.zeros_initializer())
    return kernel, bias


def _conv(x, params):
    kernel, bias = params
    return tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, 'SAME'), bias)


class BSRN:
    """The BSRN generator for a set of model scales.

    Args:
        scales (tuple[int]): Scales the network holds upsamplers for (``--bsrn_model_scales``), each in
            SUPPORTED_SCALES. Default: (2, 3, 4) (the released multi-scale model).
        conv_features (int): 'c'. Default: 64.
        state_features (int): 's' (0: no state). Default: 64.
        recursions (int): 'R', recursions of the shared residual module. Default: 16.
        recursion_frequency (int): 'r', recursions between two intermediate outputs. Default: 1.
        rgb_mean (tuple[float]): Mean subtracted from the 0..255 RGB input. Default: (127.5,) * 3.
        bicubic_skip (bool): Not in the reference: every output adds TensorFlow's bicubic upscale of the
            input instead of ``rgb_mean`` (the network learns the residual). A constant variable
            ``generator/bicubic_skip`` marks such a model in its checkpoint. Default: False.
    """

    def __init__(self, scales=(2, 3, 4), conv_features=64, state_features=64, recursions=16,
                 recursion_frequency=1, rgb_mean=(127.5, 127.5, 127.5), bicubic_skip=False):
        scales = tuple(sorted({int(s) for s in scales}))
        bad = [s for s in scales if s not in SUPPORTED_SCALES]
        if not scales or bad:
            raise ValueError(f'--bsrn_model_scales: unsupported scale {bad[0] if bad else "(none)"}; '
                             f'BSRN supports {", ".join(map(str, SUPPORTED_SCALES))}')
        if conv_features < 1 or state_features < 0 or recursions < 1 or recursion_frequency < 1:
            raise ValueError('BSRN: conv_features, recursions and recursion_frequency must be >= 1, '
                             'state_features >= 0')
        if recursions % recursion_frequency:
            raise ValueError(f'--bsrn_recursions={recursions} is not a multiple of '
                             f'--bsrn_recursion_frequency={recursion_frequency}')
        if len(rgb_mean) != 3:
            raise ValueError(f'--bsrn_rgb_mean: expected 3 values (R,G,B), got {len(rgb_mean)}')
        self.scales, self.c, self.s = scales, int(conv_features), int(state_features)
        self.recursions, self.frequency = int(recursions), int(recursion_frequency)
        self.rgb_mean = tuple(float(m) for m in rgb_mean)
        self.bicubic_skip = bool(bicubic_skip)

    @property
    def num_outputs(self):
        """Intermediate outputs per forward pass (R // r)."""
        return self.recursions // self.frequency

    def create_variables(self):
        """Create the generator's variables (in the current graph, scope 'generator'); returns a dict."""
        c, total = self.c, self.c + self.s
        block_init = v1.variance_scaling_initializer(scale=1e-4, mode='fan_in', distribution='truncated_normal')
        p = {'upscale': {}, 'last_conv': {}}
        with v1.variable_scope('generator'):
            p['first_conv'] = _conv_vars('first_conv/conv2d', 3, c)
            with v1.variable_scope('residual_modules'):
                p['block'] = [_conv_vars('conv2d', total, total, block_init),
                              _conv_vars('conv2d_1', total, total, block_init)]
                p['module'] = _conv_vars('conv2d_2', total, total)
            for scale in self.scales:
                with v1.variable_scope(f'upscale/x{scale}'):
                    if scale == 3:
                        p['upscale'][3] = [_conv_vars('conv2d', c, 9 * c)]
                    else:
                        stages = int(math.log2(scale))
                        p['upscale'][scale] = [_conv_vars('conv2d' + (f'_{i}' if i else ''), c, 4 * c)
                                               for i in range(stages)]
                if len(self.scales) > 1:
                    p['last_conv'][scale] = _conv_vars(f'last_conv/x{scale}/conv2d', c, 3)
            if len(self.scales) == 1:
                p['last_conv'][self.scales[0]] = _conv_vars('last_conv/conv2d', c, 3)
            if self.bicubic_skip:
                p['bicubic_skip'] = v1.get_variable(SKIP_MARK.split('/', 1)[1], [], tf.float32, trainable=False,
                                                    initializer=v1.ones_initializer())
        return p

    def _features(self, p, x):
        """The recursions: the list of intermediate feature maps x [N, H, W, c]."""
        x = _conv(x, p['first_conv'])
        shape = tf.shape(x)
        state = tf.zeros(tf.stack([shape[0], shape[1], shape[2], self.s])) if self.s else None
        outs = []
        for i in range(self.recursions):
            res = tf.concat([x, state], -1) if self.s else x
            res = _conv(tf.nn.relu(_conv(res, p['block'][0])), p['block'][1])
            res_x, state = tf.split(res, [self.c, self.s], -1) if self.s else (res, None)
            x = x + res_x
            res = _conv(tf.concat([x, state], -1) if self.s else x, p['module'])
            res_x, state = tf.split(res, [self.c, self.s], -1) if self.s else (res, None)
            x = x + res_x
            if (i + 1) % self.frequency == 0:
                outs.append(x)
        return outs

    def _tail(self, p, x, scale):
        """upscale/x{scale} then last_conv/x{scale}: [B, H, W, c] -> [B, sH, sW, 3] (mean not added)."""
        for params in p['upscale'][scale]:
            x = tf.nn.relu(_conv(x, params))
            x = tf.nn.depth_to_space(x, 3 if scale == 3 else 2)
        return _conv(x, p['last_conv'][scale])

    def build(self, sr_input, sr_input_scale, params=None):
        """The forward graph.

        Args:
            sr_input (tf.Tensor): float [N, H, W, 3] RGB in 0..255.
            sr_input_scale (tf.Tensor | int): Scalar scale (float placeholder, as the reference feeds it),
                or a Python int to build one scale's path only.
            params (dict | None): From :meth:`create_variables`. Default: None (create them here).

        Returns:
            list[tf.Tensor]: The R // r intermediate outputs [N, sH, sW, 3] (0..255, not clipped),
            shallowest first; the last one is the plain (non-ensembled) output.
        """
        p = params if params is not None else self.create_variables()
        with tf.name_scope('generator'):
            feats = self._features(p, tf.cast(sr_input, tf.float32) - tf.constant(self.rgb_mean))
            n = len(feats)
            stacked = tf.concat(feats, 0) if n > 1 else feats[0]      # [n*N, H, W, c]
            if isinstance(sr_input_scale, int):
                if sr_input_scale not in self.scales:
                    raise ValueError(f'scale {sr_input_scale}: the model holds {self.scales}')
                up = self._tail(p, stacked, sr_input_scale)
            elif len(self.scales) == 1:
                up = self._tail(p, stacked, self.scales[0])
            else:
                scale = tf.cast(sr_input_scale, tf.float32)
                branches = [(tf.equal(scale, float(s)), (lambda s=s: self._tail(p, stacked, s)))
                            for s in self.scales]
                up = v1.case(branches, exclusive=True)
            if self.bicubic_skip:
                s = sr_input_scale if isinstance(sr_input_scale, int) else tf.cast(sr_input_scale, tf.int32)
                base = tf.image.resize(tf.cast(sr_input, tf.float32), tf.shape(sr_input)[1:3] * s, method='bicubic')
                up = up + (tf.tile(base, [n, 1, 1, 1]) if n > 1 else base)
            else:
                up = up + tf.constant(self.rgb_mean)
            return tf.split(up, n, 0) if n > 1 else [up]

    def build_inference(self, params=None):
        """Placeholders ``sr_input`` / ``sr_input_scale`` and the outputs.

        Returns:
            dict: 'input', 'scale' (placeholders), 'outputs' (list of intermediate outputs) and
            'ensemble' (tensor ``sr_output``: their weighted sum, clipped to 0..255).
        """
        x = v1.placeholder(tf.float32, [None, None, None, 3], name=INPUT_NAME)
        scale = v1.placeholder(tf.float32, [], name=INPUT_SCALE_NAME)
        outs = self.build(x, scale, params)
        weights = ensemble_weights(len(outs))
        mixed = tf.add_n([float(w) * o for w, o in zip(weights, outs)])
        out = tf.clip_by_value(mixed, 0.0, 255.0, name=OUTPUT_NAME)
        return {'input': x, 'scale': scale, 'outputs': outs, 'ensemble': out}


def build_training(model, learning_rate=1e-4, decay=0.5, decay_steps=200000, adam_epsilon=1e-8, clip_norm=-1.0,
                   scales=None, cluster=None, rank_size=1):
    """Training ops: the weighted L1 over the intermediate outputs and Adam with staircase decay.

    The reference builds one graph whose scale is a ``tf.case`` on ``sr_input_scale``; here each
    training scale gets its own forward pass and train op over the same variables (no function call per
    step: about 1.5x faster on a CPU). The arithmetic is the reference's: a variable off this scale's path
    (another scale's upsampler) gets the zero gradient that ``tf.case`` gives an untaken branch, so Adam
    moves it by its moments exactly as in the reference.

    Args:
        model (BSRN): The network.
        learning_rate (float): Initial rate. Default: 1e-4.
        decay (float): Factor per ``decay_steps``. Default: 0.5.
        decay_steps (int): Default: 200000.
        adam_epsilon (float): Default: 1e-8.
        clip_norm (float): ``tf.clip_by_norm`` of every gradient to this norm; <= 0 disables. Default: -1.
        scales (list[int] | None): Training scales (``--scales``), each one of ``model.scales``.
            Default: None (all of ``model.scales``).
        cluster (tfzoo.cluster.Cluster | None): A worker of a parameter-server cluster: instead of 'train',
            'push' (per scale: this worker's clipped gradients to the chief) and 'apply' (the chief: Adam on
            the mean of one gradient per worker), with the 'averager'. Default: None.
        rank_size (int): Ascend HCCL devices (RANK_SIZE); above 1 the optimizer is npu_bridge's
            NPUDistributedOptimizer. Default: 1.

    Returns:
        dict: placeholders 'input', 'truth', 'global_step'; per training scale (dicts keyed by scale):
        'loss', 'losses' (per output), 'train' (or 'push'), 'outputs'; shared: 'lr', 'weights' (generator
        variables), and with a cluster 'apply' and 'averager'.
    """
    scales = list(scales or model.scales)
    for s in scales:
        if s not in model.scales:
            raise ValueError(f'--scales: the model holds {model.scales}, not x{s}')
    x = v1.placeholder(tf.float32, [None, None, None, 3], name=INPUT_NAME)
    truth = v1.placeholder(tf.float32, [None, None, None, 3], name='sr_truth')
    step = v1.placeholder(tf.int64, [], name='global_step')
    params = model.create_variables()
    lr = v1.train.exponential_decay(learning_rate, step, decay_steps, decay, staircase=True)
    g_vars = v1.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES, scope='generator')
    from tfzoo.cluster import SyncAverager, hccl_optimizer
    opt = hccl_optimizer(v1.train.AdamOptimizer(lr, epsilon=adam_epsilon), rank_size)
    weights = loss_weights(model.num_outputs, model.frequency)
    ops = {'input': x, 'truth': truth, 'global_step': step, 'lr': lr, 'weights': g_vars,
           'loss': {}, 'losses': {}, 'train': {}, 'push': {}, 'outputs': {}}
    if cluster is not None:
        ops['averager'] = SyncAverager(cluster, g_vars)
        ops['apply'] = opt.apply_gradients(zip(ops['averager'].mean_gradients(), g_vars))
    for s in scales:
        with tf.name_scope(f'x{s}'):
            outs = model.build(x, s, params)
            losses = [tf.reduce_mean(tf.abs(o - truth)) for o in outs]
            loss = tf.add_n([float(w) * l for w, l in zip(weights, losses)])
            grads = [(tf.zeros_like(v) if g is None else g, v)
                     for g, v in opt.compute_gradients(loss, var_list=g_vars)]
            if clip_norm > 0:
                grads = [(tf.clip_by_norm(g, clip_norm), v) for g, v in grads]
        if cluster is not None:
            ops['push'][s] = ops['averager'].push([g for g, _ in grads])
        else:
            ops['train'][s] = opt.apply_gradients(grads)      # outside x{s}/: Adam's beta powers keep their names
        ops['loss'][s], ops['losses'][s], ops['outputs'][s] = loss, losses, outs
    return ops
