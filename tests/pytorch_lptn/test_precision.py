"""The Ascend apex branch of LPTN's training: the calls it makes (mocked modules; nothing runs on an NPU)."""
import sys
from types import ModuleType
from unittest import mock

import pytest
import torch

from tests.pytorch_lptn.conftest import TRAIN_YML, fast_overrides


@pytest.fixture
def fake_apex(monkeypatch):
    apex, amp, optimizers = ModuleType('apex'), mock.MagicMock(name='apex.amp'), ModuleType('apex.optimizers')
    # The fused optimiser stands in as torch's Adam (the schedulers need a real optimiser).
    optimizers.NpuFusedAdam = mock.MagicMock(name='NpuFusedAdam', side_effect=lambda params, **kw: torch.optim.Adam(params, **kw))
    amp.initialize.side_effect = lambda models, optimizers, **kw: (models, optimizers)
    apex.amp, apex.optimizers = amp, optimizers
    for name, module in (('apex', apex), ('apex.amp', amp), ('apex.optimizers', optimizers)):
        monkeypatch.setitem(sys.modules, name, module)
    return amp, optimizers.NpuFusedAdam


def test_apex_o2_initialises_generator_and_critic_together(lptn, fake_apex, tiny_fivek):
    amp, fused_adam = fake_apex
    assert lptn.precision.resolve_amp('auto', 'npu') == 'apex'
    opt = lptn.options.parse(TRAIN_YML, 'train', fast_overrides(tiny_fivek.root) + ['train.optim_d.lr=0.0002'])
    model = lptn.lptn_model.LPTNModel(opt, torch.device('cpu'), 'apex', init_seed=0)
    calls = fused_adam.call_args_list
    assert [c.kwargs for c in calls] == [{'lr': 5e-4, 'betas': (0.9, 0.99), 'weight_decay': 0.0},
                                         {'lr': 2e-4, 'betas': (0.9, 0.99), 'weight_decay': 0.0}]
    assert [len(o.param_groups[0]['params']) for o in model.optimizers] == [len(list(model.net_g.parameters())),
                                                                          len(list(model.net_d.parameters()))]
    (models, optimizers), kwargs = amp.initialize.call_args
    assert models == [model.net_g, model.net_d] and len(optimizers) == 2
    assert kwargs == {'opt_level': 'O2', 'loss_scale': 128.0, 'combine_grad': True}
    assert 'Ascend apex amp O2, static loss scale 128, combine_grad, NpuFusedAdam on cpu' in model.precision.describe()
    loss = mock.MagicMock(name='loss')
    with mock.patch.object(model.optimizer_d, 'step') as step:
        model.precision.backward_step(loss, model.optimizer_d, inputs=list(model.net_d.parameters()))
    amp.scale_loss.assert_called_once_with(loss, model.optimizer_d)
    amp.scale_loss.return_value.__enter__.return_value.backward.assert_called_once_with(
        inputs=list(model.net_d.parameters()))                 # the critic step's backward reaches its weights only
    step.assert_called_once_with()


def test_bf16_autocast_runs_a_gan_step_on_cpu(lptn, tiny_fivek):
    opt = lptn.options.parse(TRAIN_YML, 'train', fast_overrides(tiny_fivek.root))
    model = lptn.lptn_model.LPTNModel(opt, torch.device('cpu'), 'bf16', init_seed=0)
    log = model.optimize_parameters({'lq': torch.rand(1, 3, 16, 16), 'ref': torch.rand(1, 3, 16, 16)}, 1)
    assert all(v == v for v in log.values()) and next(model.net_g.parameters()).dtype == torch.float32
