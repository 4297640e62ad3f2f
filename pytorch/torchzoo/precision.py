"""Mixed precision for training: float32, ``torch.autocast`` (bf16 on CPU, fp16 + GradScaler on CUDA),
or Ascend apex O2 with the fused NPU Adam.

The Ascend branch is written as the ModelZoo README prescribes it::

    optimizer = apex.optimizers.NpuFusedAdam(model.parameters(), lr=..., betas=...)
    model, optimizer = amp.initialize(model, optimizer, opt_level='O2', loss_scale=32.0, combine_grad=True)
    with amp.scale_loss(loss, optimizer) as scaled_loss:
        scaled_loss.backward()

It is chosen only where ``apex`` (Ascend's build, with ``apex.optimizers.NpuFusedAdam``) imports.
"""
import contextlib
import importlib

import torch

from torchzoo.device import cpu_has_native_bf16

__all__ = ['AMP_CHOICES', 'APEX_SETTINGS', 'INFER_CHOICES', 'resolve_amp', 'resolve_inference', 'import_apex',
           'Precision', 'setup_training', 'setup_training_multi']

AMP_CHOICES = ('auto', 'off', 'on', 'fp32', 'bf16', 'fp16', 'apex')
INFER_CHOICES = ('auto', 'fp32', 'bf16', 'fp16')
APEX_SETTINGS = dict(opt_level='O2', loss_scale=32.0, combine_grad=True)


def import_apex():
    """``(apex.amp, apex.optimizers.NpuFusedAdam)`` where Ascend's apex imports, else None."""
    try:
        amp = importlib.import_module('apex.amp')
        optimizers = importlib.import_module('apex.optimizers')
        return amp, optimizers.NpuFusedAdam
    except (ImportError, AttributeError):
        return None


def resolve_amp(amp, device_type, flag='--amp'):
    """The precision mode for an ``--amp`` value on a device type.

    Args:
        amp (str): 'auto': apex on an NPU where apex imports, fp16 on CUDA, bf16 on a CPU with
            hardware bfloat16, else fp32. 'on': the device's mixed precision (apex / fp16 / bf16)
            whatever the speed. 'off' = 'fp32'. 'bf16', 'fp16', 'apex': that mode.
        device_type (str): 'npu', 'cuda' or 'cpu'.
        flag (str): For messages. Default: '--amp'.

    Returns:
        str: 'fp32', 'bf16', 'fp16' or 'apex'.
    """
    if amp not in AMP_CHOICES:
        raise ValueError(f"{flag}={amp}: choose from {', '.join(AMP_CHOICES)}")
    if amp in ('off', 'fp32', 'bf16', 'fp16', 'apex'):
        mode = 'fp32' if amp == 'off' else amp
    elif device_type == 'npu':
        mode = 'apex' if import_apex() is not None else ('fp16' if amp == 'on' else 'fp32')
    elif device_type == 'cuda':
        mode = 'fp16'
    else:
        mode = 'bf16' if amp == 'on' or cpu_has_native_bf16() else 'fp32'
    if mode == 'apex' and import_apex() is None:
        raise ValueError(f'{flag}=apex: Ascend apex (apex.amp, apex.optimizers.NpuFusedAdam) does not import here')
    if mode == 'fp16' and device_type == 'cpu':
        raise ValueError(f'{flag}=fp16: float16 autocast with a GradScaler needs CUDA or an NPU; use bf16 on CPU')
    return mode


def resolve_inference(amp, device_type, flag='--amp'):
    """The precision of an inference entry point for its ``--amp`` value.

    Args:
        amp (str): 'auto': fp16 on CUDA or an NPU, bf16 on a CPU that computes bfloat16 natively
            (``cpu_has_native_bf16``: AMX or AVX512-BF16), else fp32, so that ``auto`` never picks an
            emulated precision, which is slower than fp32. 'fp32', 'bf16', 'fp16': that precision
            ('bf16' on any CPU: correct, and slow where emulated).
        device_type (str): 'npu', 'cuda' or 'cpu'.
        flag (str): For messages. Default: '--amp'.

    Returns:
        str: 'fp32', 'bf16' or 'fp16'.
    """
    if amp not in INFER_CHOICES:
        raise ValueError(f"{flag}={amp}: choose from {', '.join(INFER_CHOICES)}")
    if amp == 'auto':
        amp = 'fp16' if device_type in ('cuda', 'npu') else ('bf16' if cpu_has_native_bf16() else 'fp32')
    if amp == 'fp16' and device_type == 'cpu':
        raise ValueError(f'{flag}=fp16: float16 inference needs CUDA or an NPU; use bf16 (or auto) on CPU')
    return amp


class Precision:
    """How one training step runs its forward and backward passes.

    Args:
        mode (str): 'fp32', 'bf16', 'fp16' or 'apex'.
        device_type (str): 'cpu', 'cuda' or 'npu'.
        scaler (torch.amp.GradScaler | None): For 'fp16'. Default: None.
        apex_amp (module | None): ``apex.amp`` for 'apex'. Default: None.
    """

    def __init__(self, mode, device_type, scaler=None, apex_amp=None, apex_settings=None):
        self.mode, self.device_type, self.scaler, self.apex_amp = mode, device_type, scaler, apex_amp
        self.apex_settings = dict(APEX_SETTINGS, **(apex_settings or {}))

    def autocast(self):
        """Context for the forward pass and the loss."""
        if self.mode in ('bf16', 'fp16'):
            dtype = torch.bfloat16 if self.mode == 'bf16' else torch.float16
            return torch.autocast(self.device_type, dtype=dtype)
        return contextlib.nullcontext()

    def backward_step(self, loss, optimizer, inputs=None):
        """Backward pass and optimiser step (loss scaling where the mode has one); ``inputs`` (tensors)
        limits the backward pass to the gradients of those (``Tensor.backward(inputs=...)``), e.g. the
        optimiser's parameters when the graph also reaches tensors whose gradients nobody reads."""
        if self.mode == 'apex':
            with self.apex_amp.scale_loss(loss, optimizer) as scaled_loss:
                scaled_loss.backward(inputs=inputs)
            optimizer.step()
        elif self.scaler is not None:
            self.scaler.scale(loss).backward(inputs=inputs)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward(inputs=inputs)
            optimizer.step()

    def state_dict(self):
        """The loss-scaler state ({} when there is none)."""
        if self.mode == 'apex':
            return dict(self.apex_amp.state_dict())
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state):
        if self.mode == 'apex':
            self.apex_amp.load_state_dict(state)
        elif self.scaler is not None and state:
            self.scaler.load_state_dict(state)

    def describe(self):
        """One line for the log, e.g. 'precision: fp32 on cpu (everything in float32)'."""
        what = {'fp32': 'fp32 (everything in float32)',
                'bf16': 'bf16 autocast (convolutions in bfloat16; weights, optimiser and loss in float32)',
                'fp16': 'fp16 autocast with a dynamic GradScaler',
                'apex': f"Ascend apex amp {self.apex_settings['opt_level']}, static loss scale "
                        f"{self.apex_settings['loss_scale']:g}, combine_grad, NpuFusedAdam"}[self.mode]
        note = ''
        if self.mode == 'bf16' and self.device_type == 'cpu' and not cpu_has_native_bf16():
            note = '; this CPU has no hardware bfloat16, so it is emulated and slower than fp32'
        return f'precision: {what} on {self.device_type}{note}'


def setup_training(model, mode, device_type, lr, betas=(0.9, 0.999), eps=1e-8):
    """Build the Adam optimiser and the precision of a training run (the model is already on its device).

    Args:
        model (torch.nn.Module): The network.
        mode (str): From :func:`resolve_amp`.
        device_type (str): 'cpu', 'cuda' or 'npu'.
        lr (float): Learning rate.
        betas (tuple[float, float]): Adam betas. Default: (0.9, 0.999).
        eps (float): Adam epsilon. Default: 1e-8.

    Returns:
        tuple: ``(model, optimizer, Precision)``; with apex, the model and optimiser that
        ``amp.initialize`` returns.
    """
    if mode == 'apex':
        found = import_apex()
        if found is None:
            raise ValueError('--amp=apex: Ascend apex does not import here')
        apex_amp, npu_fused_adam = found
        optimizer = npu_fused_adam(model.parameters(), lr=lr, betas=betas, eps=eps)
        model, optimizer = apex_amp.initialize(model, optimizer, **APEX_SETTINGS)
        return model, optimizer, Precision(mode, device_type, apex_amp=apex_amp)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps)
    scaler = torch.amp.GradScaler(device_type) if mode == 'fp16' else None
    return model, optimizer, Precision(mode, device_type, scaler=scaler)


def setup_training_multi(models, mode, device_type, optim_args, apex_settings=None):
    """Build one Adam per model (e.g. a GAN's generator and critic) and the run's precision.

    With apex, every model and optimiser goes through one ``amp.initialize`` call, as Ascend's apex
    expects for several networks::

        [net_g, net_d], [opt_g, opt_d] = amp.initialize([net_g, net_d], [opt_g, opt_d], opt_level='O2', ...)

    Args:
        models (list[torch.nn.Module]): The networks (already on their device).
        mode (str): From :func:`resolve_amp`.
        device_type (str): 'cpu', 'cuda' or 'npu'.
        optim_args (list[dict]): Adam keyword arguments per model (``lr``, ``betas``, ``weight_decay``...).
        apex_settings (dict | None): ``amp.initialize`` options over :data:`APEX_SETTINGS`, e.g.
            ``{'loss_scale': 128.0}``. Default: None.

    Returns:
        tuple: ``(models, optimizers, Precision)`` (lists in the order given).
    """
    models = list(models)
    if len(models) != len(optim_args):
        raise ValueError('setup_training_multi: one optim_args dict per model')
    if mode == 'apex':
        found = import_apex()
        if found is None:
            raise ValueError('--amp=apex: Ascend apex does not import here')
        apex_amp, npu_fused_adam = found
        settings = dict(APEX_SETTINGS, **(apex_settings or {}))
        optimizers = [npu_fused_adam(m.parameters(), **kw) for m, kw in zip(models, optim_args)]
        models, optimizers = apex_amp.initialize(models, optimizers, **settings)
        return list(models), list(optimizers), Precision(mode, device_type, apex_amp=apex_amp, apex_settings=settings)
    optimizers = [torch.optim.Adam(m.parameters(), **kw) for m, kw in zip(models, optim_args)]
    scaler = torch.amp.GradScaler(device_type) if mode == 'fp16' else None
    return models, optimizers, Precision(mode, device_type, scaler=scaler)
