"""The Session config: the NpuOptimizer branch with the Ascend port's options (asserted on the ConfigProto,
never run), the plain config elsewhere, and --chip=npu off Ascend."""
from types import SimpleNamespace

from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig


def _args(**kw):
    base = dict(precision_mode='allow_mix_precision', intra_op_threads=2, inter_op_threads=1)
    base.update(kw)
    return SimpleNamespace(**base)


def test_npu_config_proto(bsrn):
    config = bsrn.flags.session_config_for(_args(), npu=True)
    rewrite = config.graph_options.rewrite_options
    (custom,) = rewrite.custom_optimizers
    assert custom.name == 'NpuOptimizer'
    params = custom.parameter_map
    assert params['use_off_line'].b is True
    assert params['precision_mode'].s == b'allow_mix_precision'
    assert params['dynamic_input'].b is True
    assert params['dynamic_graph_execute_mode'].s == b'lazy_recompile'
    assert rewrite.remapping == RewriterConfig.OFF and rewrite.memory_optimization == RewriterConfig.OFF
    assert config.intra_op_parallelism_threads == 2


def test_plain_config_and_rcan_defaults_unchanged(bsrn):
    config = bsrn.flags.session_config_for(_args(), npu=False)
    assert not config.graph_options.rewrite_options.custom_optimizers and config.gpu_options.allow_growth
    rcan_like = bsrn.session.session_config(npu=True)            # tfzoo defaults: RCAN's config
    assert rcan_like.graph_options.rewrite_options.memory_optimization == RewriterConfig.DEFAULT_MEM_OPT
    assert 'dynamic_input' not in rcan_like.graph_options.rewrite_options.custom_optimizers[0].parameter_map


def test_chip_npu_without_npu_bridge_says_so(bsrn, capsys):
    import tensorflow as tf
    args = _args(chip='npu', cuda_device='0')
    with bsrn.flags.session(args, tf.Graph()) as sess:
        assert sess is not None
    assert 'npu_bridge does not import here' in capsys.readouterr().err
