"""tfzoo.session: the ConfigProto of the Ascend branch (inspected, never run) and of the plain branch."""
import sys
import types

import pytest
from tensorflow.core.protobuf.rewriter_config_pb2 import RewriterConfig


def _npu_optimizer(config):
    found = [op for op in config.graph_options.rewrite_options.custom_optimizers if op.name == 'NpuOptimizer']
    return found[0] if found else None


def test_the_npu_branch_builds_the_ascend_config(rcan):
    config = rcan.session.session_config(npu=True, precision_mode='allow_mix_precision', intra_op_threads=3)
    op = _npu_optimizer(config)
    assert op is not None
    assert op.parameter_map['use_off_line'].b is True
    assert op.parameter_map['precision_mode'].s == b'allow_mix_precision'
    assert config.graph_options.rewrite_options.remapping == RewriterConfig.OFF
    assert config.intra_op_parallelism_threads == 3 and config.inter_op_parallelism_threads == 1
    assert not config.gpu_options.allow_growth


def test_the_plain_branch_has_no_npu_optimizer(rcan):
    config = rcan.session.session_config(npu=False)
    assert _npu_optimizer(config) is None
    assert config.graph_options.rewrite_options.remapping == RewriterConfig.DEFAULT
    assert config.gpu_options.allow_growth
    assert config.intra_op_parallelism_threads == rcan.session.default_threads()


def test_the_npu_branch_is_chosen_where_npu_bridge_imports(rcan, monkeypatch):
    assert not rcan.session.npu_available()          # no Ascend adapter on this machine
    fake = {name: types.ModuleType(name) for name in ('npu_bridge', 'npu_bridge.estimator',
                                                      'npu_bridge.estimator.npu_ops')}
    fake['npu_bridge'].estimator = fake['npu_bridge.estimator']
    fake['npu_bridge.estimator'].npu_ops = fake['npu_bridge.estimator.npu_ops']
    for name, module in fake.items():
        monkeypatch.setitem(sys.modules, name, module)
    assert rcan.session.npu_available()
    op = _npu_optimizer(rcan.session.session_config())
    assert op is not None and op.parameter_map['precision_mode'].s == b'allow_fp32_to_fp16'


def test_bad_session_settings_are_one_line(rcan):
    with pytest.raises(ValueError, match='--precision_mode=fp8: expected one of allow_fp32_to_fp16, force_fp16'):
        rcan.session.session_config(precision_mode='fp8')
    with pytest.raises(ValueError, match='--intra_op_threads=-1: must be >= 0'):
        rcan.session.session_config(intra_op_threads=-1)
