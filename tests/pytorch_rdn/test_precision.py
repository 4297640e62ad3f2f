"""torchzoo.device / precision: the device and precision choices, and the Ascend apex branch's arguments.

The Ascend branch cannot run here (no torch_npu, no Ascend apex): the test replaces the apex modules by
mocks and checks the calls that branch makes; it does not pretend that training ran on an NPU.
"""
import sys
from types import ModuleType
from unittest import mock

import pytest
import torch


@pytest.fixture
def fake_apex(monkeypatch):
    """Ascend apex stand-ins: apex.amp (initialize, scale_loss, state_dict) and apex.optimizers.NpuFusedAdam."""
    apex, amp, optimizers = ModuleType('apex'), mock.MagicMock(name='apex.amp'), ModuleType('apex.optimizers')
    optimizers.NpuFusedAdam = mock.MagicMock(name='NpuFusedAdam')
    amp.initialize.side_effect = lambda model, optimizer, **kw: (model, optimizer)
    amp.state_dict.return_value = {'loss_scaler0': {'loss_scale': 32.0}}
    apex.amp, apex.optimizers = amp, optimizers
    for name, module in (('apex', apex), ('apex.amp', amp), ('apex.optimizers', optimizers)):
        monkeypatch.setitem(sys.modules, name, module)
    return amp, optimizers.NpuFusedAdam


def test_ascend_branch_builds_apex_o2_with_the_fused_npu_adam(rdn, fake_apex):
    amp, fused_adam = fake_apex
    precision = rdn.torchzoo.precision
    assert precision.resolve_amp('auto', 'npu') == 'apex'
    model = rdn.rdn.build_rdn('reference', 4)
    out_model, optimizer, prec = precision.setup_training(model, 'apex', 'npu', lr=1e-3)
    params, = fused_adam.call_args.args
    assert [p.shape for p in params] == [p.shape for p in model.parameters()]
    assert fused_adam.call_args.kwargs == {'lr': 1e-3, 'betas': (0.9, 0.999), 'eps': 1e-8}
    amp.initialize.assert_called_once_with(model, fused_adam.return_value, opt_level='O2', loss_scale=32.0,
                                           combine_grad=True)
    assert out_model is model and optimizer is fused_adam.return_value
    loss = mock.MagicMock(name='loss')
    prec.backward_step(loss, optimizer)
    amp.scale_loss.assert_called_once_with(loss, optimizer)
    amp.scale_loss.return_value.__enter__.return_value.backward.assert_called_once_with(inputs=None)
    optimizer.step.assert_called_once_with()
    assert prec.state_dict() == {'loss_scaler0': {'loss_scale': 32.0}}
    assert 'Ascend apex amp O2, static loss scale 32, combine_grad, NpuFusedAdam on npu' in prec.describe()


def test_without_apex_auto_picks_by_device(rdn, monkeypatch):
    precision = rdn.torchzoo.precision
    monkeypatch.setattr(precision, 'import_apex', lambda: None)
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: False)
    assert precision.resolve_amp('auto', 'npu') == 'fp32'
    assert precision.resolve_amp('on', 'npu') == 'fp16'
    assert precision.resolve_amp('auto', 'cuda') == 'fp16'
    assert precision.resolve_amp('auto', 'cpu') == 'fp32'          # emulated bf16 is slower than fp32
    assert precision.resolve_amp('on', 'cpu') == 'bf16'
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    assert precision.resolve_amp('auto', 'cpu') == 'bf16'
    assert precision.resolve_amp('off', 'cuda') == 'fp32'
    with pytest.raises(ValueError, match='--amp=apex: Ascend apex .* does not import here'):
        precision.resolve_amp('apex', 'cpu')
    with pytest.raises(ValueError, match='--amp=fp16: float16 autocast with a GradScaler needs CUDA'):
        precision.resolve_amp('fp16', 'cpu')


def test_cpu_autocast_runs_convolutions_in_bf16(rdn):
    model = rdn.rdn.build_rdn('reference', 2)
    _, optimizer, prec = rdn.torchzoo.precision.setup_training(model, 'bf16', 'cpu', lr=1e-3)
    with prec.autocast():
        out = model(torch.rand(1, 1, 8, 8))
    assert out.dtype == torch.bfloat16 and next(model.parameters()).dtype == torch.float32
    before = model.SFF1.weight.detach().clone()
    prec.backward_step(torch.nn.functional.l1_loss(out.float(), torch.rand(1, 1, 16, 16)), optimizer)
    assert not torch.equal(before, model.SFF1.weight) and prec.state_dict() == {}


def test_device_selection(rdn, monkeypatch, capsys):
    device = rdn.torchzoo.device
    monkeypatch.setattr(device, 'npu_available', lambda: False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert device.select_device('auto') == torch.device('cpu')
    with pytest.raises(ValueError, match='--device=npu: not available here'):
        device.select_device('npu')
    assert device.select_device('npu', fallback=True) == torch.device('cpu')
    assert 'notice: --device=npu is not available' in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert device.select_device('auto') == torch.device('cuda:0')      # (npu:0 needs torch_npu to be named)
    with pytest.raises(ValueError, match="--device=tpu: choose from auto, npu, cuda, cpu"):
        device.select_device('tpu')
