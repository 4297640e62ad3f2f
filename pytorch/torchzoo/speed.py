"""The PyTorch side of the speed yardstick (docs/protocol.md, "Speed yardstick").

:func:`dense_conv` times the yardstick convolution (``common.bench.YARDSTICK``: 3x3, 64 -> 64 channels,
batch 16 x 64 x 64) in both memory layouts PyTorch offers for it on the CPU, NCHW and channels-last, in
the precision asked, and keeps the faster (``common.bench.yardstick``), so that no model looks efficient
against a slow reference. It runs in the bench's own process, with its threads, just before the section
it is compared with, and leaves the global random state as it found it. :func:`forward_flops` counts a
model's side of the ratio.
"""
import contextlib
import copy
import functools

import torch
from torch.utils.flop_counter import FlopCounterMode

from common.bench import YARDSTICK, yardstick
from common.timing import best_calls_per_second

__all__ = ['LAYOUTS', 'dense_conv', 'forward_flops']

LAYOUTS = {'nchw': torch.contiguous_format, 'channels_last': torch.channels_last}
DTYPES = {'fp32': None, 'bf16': torch.bfloat16}


def _calls_per_second(mode, precision, memory_format, seconds):
    y = YARDSTICK
    shape = (y['batch'], y['channels'], y['height'], y['width'])
    conv = torch.nn.Conv2d(y['channels'], y['channels'], y['kernel'], padding=y['kernel'] // 2)
    conv = conv.to(memory_format=memory_format)
    x = torch.rand(shape).to(memory_format=memory_format)
    dtype = DTYPES[precision]

    def autocast():
        return torch.autocast('cpu', dtype=dtype) if dtype is not None else contextlib.nullcontext()

    if mode == 'infer':
        if dtype is not None:          # bfloat16 weights and tensors: no per-call cast of the weights
            conv, x = conv.to(dtype), x.to(dtype)

        def once():
            with torch.no_grad():
                conv(x)
    else:
        x.requires_grad_()
        # A dense gradient in the same layout: ``.sum().backward()`` would hand the backward
        # convolutions a stride-0 gradient, and time a slower path.
        grad = torch.rand(shape).to(dtype=dtype or torch.float32, memory_format=memory_format)

        def once():
            conv.zero_grad(set_to_none=True)
            x.grad = None
            with autocast():
                out = conv(x)
            out.backward(grad)
    return best_calls_per_second(once, seconds=seconds)


def dense_conv(mode, precision='fp32', seconds=1.0):
    """The yardstick's GFLOP/s in this process: forward + backward ('train') or forward ('infer').

    Args:
        mode (str): 'train' or 'infer'.
        precision (str): 'fp32', or 'bf16': for 'infer' bfloat16 weights and tensors (the fastest
            bfloat16 convolution, what a bf16 inference path runs), for 'train' CPU autocast (what
            bf16 training runs). Default: 'fp32'.
        seconds (float): Each of the 3 timing windows per layout (the fastest counts). Default: 1.0.

    Returns:
        dict: ``common.bench.fastest``'s figure: gflops, layout ('nchw' or 'channels_last'), precision
        and every layout's GFLOP/s under 'measured'.
    """
    if precision not in DTYPES:
        raise ValueError(f'yardstick precision must be one of {", ".join(DTYPES)}, got {precision!r}')
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return yardstick(mode, precision, {name: functools.partial(_calls_per_second, mode, precision, fmt, seconds)
                                           for name, fmt in LAYOUTS.items()},
                         f'torch {torch.__version__}, threads {torch.get_num_threads()}')


def forward_flops(model, shape):
    """FLOPs of one forward pass of ``model`` on an input of ``shape`` (convolutions and matrix products,
    2 per multiply-accumulate), counted on the meta device: no arithmetic runs, the model is not changed.
    """
    meta = copy.deepcopy(model).to('meta')
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(torch.empty(*shape, device='meta'))
    return counter.get_total_flops()
