"""Where a PyTorch model runs: an Ascend NPU where ``torch_npu`` imports, else CUDA, else the CPU.

Nothing here is called at import time and no constructor of a model takes a device: entry scripts
call :func:`select_device` once and move the model and each batch there.
"""
import importlib

import torch

__all__ = ['DEVICES', 'npu_available', 'select_device', 'cpu_has_native_bf16']

DEVICES = ('auto', 'npu', 'cuda', 'cpu')


def npu_available():
    """Whether ``torch_npu`` imports and reports a usable NPU (it registers ``torch.npu`` when imported)."""
    try:
        importlib.import_module('torch_npu')
    except ImportError:
        return False
    npu = getattr(torch, 'npu', None)
    return bool(npu is not None and npu.is_available())


def select_device(want='auto', fallback=False, flag='--device'):
    """Pick the device to run on.

    Args:
        want (str): 'auto' (NPU, else CUDA, else CPU), 'npu', 'cuda' or 'cpu'. Default: 'auto'.
        fallback (bool): When ``want`` is unavailable, print a notice and use 'auto' instead of
            raising. Default: False.
        flag (str): The flag that chose ``want``, for messages. Default: '--device'.

    Returns:
        torch.device: ``npu:0``, ``cuda:0`` or ``cpu``.

    Raises:
        ValueError: Unknown name, or ``want`` unavailable without ``fallback``.
    """
    if want not in DEVICES:
        raise ValueError(f"{flag}={want}: choose from {', '.join(DEVICES)}")
    have = {'npu': npu_available, 'cuda': torch.cuda.is_available, 'cpu': lambda: True}
    if want != 'auto':
        if have[want]():
            return torch.device('cpu' if want == 'cpu' else f'{want}:0')
        why = 'torch_npu does not import or sees no NPU' if want == 'npu' else 'torch sees no CUDA device'
        if not fallback:
            raise ValueError(f'{flag}={want}: not available here ({why}); use {flag}=auto')
        print(f'notice: {flag}={want} is not available ({why}); choosing automatically', flush=True)
    for name in ('npu', 'cuda'):
        if have[name]():
            return torch.device(f'{name}:0')
    return torch.device('cpu')


def cpu_has_native_bf16():
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo).

    Without them oneDNN emulates bfloat16, and bf16 autocast is slower than float32 (about 10x on the
    AVX2-only bench machine).
    """
    try:
        with open('/proc/cpuinfo', encoding='ascii', errors='replace') as f:
            for line in f:
                if line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    return bool(flags & {'avx512_bf16', 'amx_bf16'})
    except OSError:
        pass
    return False
