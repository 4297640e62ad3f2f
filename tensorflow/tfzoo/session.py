"""Session configuration: Ascend's NpuOptimizer where ``npu_bridge`` imports, the plain config elsewhere.

On Ascend (TF 1.15 with the CANN ``npu_bridge`` plugin) a TF1 graph runs on the NPU when the Session's
grappler rewriter holds the custom optimizer ``NpuOptimizer`` with ``use_off_line`` on, and the
grappler ``remapping`` pass is off (the two settings ModelZoo's RCAN_ID0268 ``main.py`` makes), and
``precision_mode`` picks the NPU's float16 policy. Elsewhere the Session gets the reference's
``gpu_options.allow_growth`` and explicit thread pools.

The NPU branch is chosen only where ``npu_bridge`` imports. It is tested by inspecting the ConfigProto
that :func:`session_config` builds with ``npu=True``; it never runs without Ascend hardware.
"""
import importlib
import os

import tensorflow as tf
from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig

__all__ = ['PRECISION_MODES', 'npu_available', 'session_config', 'default_threads']

# The precision modes of the Ascend TF adapter (the ModelZoo scripts' --precision_mode choices).
PRECISION_MODES = ('allow_fp32_to_fp16', 'force_fp16', 'must_keep_origin_dtype', 'allow_mix_precision')


def npu_available():
    """Whether the Ascend TF adapter imports here (``npu_bridge.estimator.npu_ops``).

    Importing ``npu_ops`` also registers the NPU operators with TensorFlow, as the reference does.
    """
    try:
        importlib.import_module('npu_bridge.estimator.npu_ops')
    except ImportError:
        return False
    return True


def default_threads():
    """Cores this process may use (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def session_config(npu=None, precision_mode='allow_fp32_to_fp16', intra_op_threads=0, inter_op_threads=1,
                   npu_options=None, rewriters_off=('remapping',)):
    """Build the ``tf.compat.v1.ConfigProto`` of a training or inference Session.

    Args:
        npu (bool | None): Build the Ascend config (True) or the plain one (False). Default: None
            (Ascend exactly when :func:`npu_available`).
        precision_mode (str): Ascend float16 policy, one of :data:`PRECISION_MODES`; ignored off
            Ascend. Default: 'allow_fp32_to_fp16' (the ModelZoo scripts' default).
        intra_op_threads (int): Threads inside one op; 0 uses :func:`default_threads`. Default: 0.
        inter_op_threads (int): Ops run concurrently; 0 lets TensorFlow choose. Default: 1 (the
            network is one chain of convolutions; a second pool only competes for the cores).
        npu_options (dict | None): Further NpuOptimizer parameters for the Ascend config, ``{name: bool |
            int | str}`` (e.g. BSRN's ``{'dynamic_input': True, 'dynamic_graph_execute_mode':
            'lazy_recompile'}``). Default: None.
        rewriters_off (tuple[str]): Grappler passes switched off in the Ascend config (fields of
            ``RewriterConfig``, e.g. 'memory_optimization'). Default: ('remapping',).

    Returns:
        tf.compat.v1.ConfigProto: The configuration.

    Raises:
        ValueError: Unknown precision mode or negative thread counts.
    """
    if precision_mode not in PRECISION_MODES:
        raise ValueError(f"--precision_mode={precision_mode}: expected one of {', '.join(PRECISION_MODES)}")
    for flag, value in (('--intra_op_threads', intra_op_threads), ('--inter_op_threads', inter_op_threads)):
        if value < 0:
            raise ValueError(f'{flag}={value}: must be >= 0')
    if npu is None:
        npu = npu_available()
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=int(intra_op_threads) or default_threads(),
        inter_op_parallelism_threads=int(inter_op_threads))
    if npu:
        custom_op = config.graph_options.rewrite_options.custom_optimizers.add()
        custom_op.name = 'NpuOptimizer'
        custom_op.parameter_map['use_off_line'].b = True          # run the graph on the Ascend device
        custom_op.parameter_map['precision_mode'].s = tf.compat.as_bytes(precision_mode)
        for key, value in (npu_options or {}).items():
            if isinstance(value, bool):
                custom_op.parameter_map[key].b = value
            elif isinstance(value, int):
                custom_op.parameter_map[key].i = value
            else:
                custom_op.parameter_map[key].s = tf.compat.as_bytes(str(value))
        for name in rewriters_off:                                 # 'remapping' is required by the adapter
            if not hasattr(config.graph_options.rewrite_options, name):
                raise ValueError(f'session_config: RewriterConfig has no pass named {name}')
            setattr(config.graph_options.rewrite_options, name, RewriterConfig.OFF)
    else:
        config.gpu_options.allow_growth = True
    return config
