"""Profile LPTN against its reference formulation, in one process: where a training iteration and an
inference pass spend their time, before and after this repository's fast paths.

``before`` is the reference's formulation of the same network and weights: the pyramid as it writes
it (the 5x5 blur of the whole image, then every second pixel; zero insertion, then the 5x5 blur of the
4x larger image), NCHW memory, PyTorch's InstanceNorm (NCHW output), out-of-place activations and
sums, no strips; the bench's old training thread count (1). ``after`` is this repository's network
(``models/archs/LPTN_arch.py``: the stride-2 blur, the upsampling phases, channels-last memory,
inference in strips and bands) with the bench's threads. Both run alternately on the same input, so
the ratios hold on a noisy machine; absolute milliseconds differ between CPUs. Both give the same
values (tests/pytorch_lptn/test_model.py). glibc's kept-freed-memory setting (torchzoo) is process-wide:
it applies to both.

Inference is broken down by the CPU time of the operators (torch.profiler): the 64-channel 3x3
convolutions of the two trunks (97% of the FLOPs), the other convolutions (pyramid filters, 1x1 mask
blocks, the trunks' first and last layers) and everything else (padding, resizing, element-wise, copies).
Training is timed phase by phase on one batch (8 crops of 128, the bench's).

Usage (from the repository root; ``--render_only`` re-renders the README block from the record):
    python pytorch/lptn/profile_lptn.py --out results/lptn_profile.json
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

import copy
import json
import os
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

from common import records
from common.cli import FlagParser, run_cli
from models.archs import LPTN_arch, define_network
from models.losses import compute_gradient_penalty

HERE = Path(__file__).resolve().parent
README = HERE / 'README.md'
MARKERS = ('<!-- profile:begin -->', '<!-- profile:end -->')
SIZES = OrderedDict([('1920x1080', (1080, 1920)), ('3840x2160', (2160, 3840))])
TRAIN_BATCH, TRAIN_CROP = 8, 128


class ReferencePyramid(LPTN_arch.Lap_Pyramid_Conv):
    """The reference's pyramid operations as it writes them."""

    def downsample(self, x):
        return self.conv_gauss(x, self._kernel(x))[:, :, ::2, ::2]

    def upsample(self, x):
        n, c, h, w = x.shape
        up = torch.zeros(n, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
        up[:, :, ::2, ::2] = x
        return self.conv_gauss(up, 4 * self._kernel(x))


class ReferenceLPTN(LPTN_arch.LPTN):
    """The reference's forward pass: NCHW memory, the whole image at once."""

    def forward(self, x):
        pyr_a = self.lap_pyramid.pyramid_decom(x)
        fake_low = self.trans_low(pyr_a[-1])
        size = pyr_a[-2].shape[2:]
        high_with_low = torch.cat([pyr_a[-2], F.interpolate(pyr_a[-1], size=size),
                                   F.interpolate(fake_low, size=size)], 1)
        return self.lap_pyramid.pyramid_recons(self.trans_high(high_with_low, pyr_a, fake_low))


def reference_of(net):
    """``net``'s weights in the reference's formulation (a copy)."""
    ref = copy.deepcopy(net)
    ref.__class__ = ReferenceLPTN
    ref.lap_pyramid.__class__ = ReferencePyramid
    for m in ref.modules():
        if isinstance(m, torch.nn.LeakyReLU):
            m.inplace = False
        if isinstance(m, LPTN_arch.InstanceNorm2d):
            m.__class__ = torch.nn.InstanceNorm2d
        if isinstance(m, LPTN_arch.ResidualBlock):
            m.forward = lambda x, block=m.block: x + block(x)
    return ref


def category(event):
    """The operator class of a profiler event (see the module docstring)."""
    if event.key not in ('aten::mkldnn_convolution', 'aten::_convolution', 'aten::convolution',
                         'aten::thnn_conv2d', 'aten::_slow_conv2d_forward',
                         'mkldnn::_convolution_pointwise', 'mkldnn::_convolution_pointwise_'):
        return 'other operators (padding, resizing, element-wise, copies)'
    # The weight is the second input of aten's convolutions, the third of oneDNN's fused ones with a sum.
    if [64, 64, 3, 3] in [list(shape) for shape in event.input_shapes[1:3]]:
        return '64-channel 3x3 convolutions (trunks)'
    return 'other convolutions (pyramid, 1x1 masks, trunk ends)'


def op_breakdown(net, x):
    """{category: ms of one pass} by operator self CPU time."""
    with torch.no_grad():
        net(x)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            net(x)
    out = OrderedDict()
    for event in prof.key_averages(group_by_input_shape=True):
        if event.key.startswith('aten::') or event.key.startswith('mkldnn'):
            key = category(event)
            out[key] = out.get(key, 0.0) + event.self_cpu_time_total / 1e3
    return out


def alternate(fns, repeats):
    """Median seconds of each of ``fns`` ({name: callable}), run in turn ``repeats`` times after one warm-up."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def profile_inference(repeats, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    after = LPTN_arch.LPTN().eval()
    before = reference_of(after)
    out = OrderedDict()
    for label, (h, w) in SIZES.items():
        x = torch.rand(1, 3, h, w)
        with torch.no_grad():
            worst = float((after(x) - before(x)).abs().max())
            seconds = alternate({'before': lambda: before(x), 'after': lambda: after(x)}, repeats)
        out[label] = {'seconds': seconds, 'speedup': seconds['before'] / seconds['after'], 'max_abs_diff': worst,
                      'ops_ms': {'before': op_breakdown(before, x), 'after': op_breakdown(after, x)}}
        print(f"== inference {label}: before {seconds['before']:.3f} s, after {seconds['after']:.3f} s "
              f"({out[label]['speedup']:.2f}x), max |diff| {worst:.2e}", flush=True)
    return out


def train_phases(net_g, net_d, lq, ref, iters):
    """Median ms of each phase of the unpaired iteration (the order of models/lptn_model.py)."""
    opt_g, opt_d = torch.optim.Adam(net_g.parameters(), 5e-4), torch.optim.Adam(net_d.parameters(), 5e-4)
    phases = OrderedDict()

    def tick(name, start):
        phases.setdefault(name, []).append(time.perf_counter() - start)
        return time.perf_counter()

    for _ in range(iters + 2):
        t = time.perf_counter()
        for p in net_d.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        out = net_g(lq)
        t = tick('generator forward', t)
        pred = net_d(out)
        t = tick('critic forward (generator step)', t)
        (1000 * F.mse_loss(out, lq) - pred.mean()).backward()
        t = tick('generator step backward', t)
        opt_g.step()
        for p in net_d.parameters():
            p.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        t = tick('optimiser steps', t)
        with torch.no_grad():
            out = net_g(lq)
        t = tick('generator forward without a graph (critic step)', t)
        real, fake = net_d(torch.cat([ref, out])).split(lq.shape[0])
        t = tick('critic forward', t)
        gp = compute_gradient_penalty(net_d, ref, out)
        t = tick('gradient penalty forward and input gradient', t)
        (fake.mean() - real.mean() + 100 * gp).backward()
        t = tick("critic backward with the penalty's double backward", t)
        opt_d.step()
        tick('optimiser steps', t)
    return OrderedDict((k, float(np.median(v[2:])) * 1e3) for k, v in phases.items())


def profile_training(iters, threads):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    lq, ref = (torch.rand(TRAIN_BATCH, 3, TRAIN_CROP, TRAIN_CROP, generator=gen) for _ in range(2))
    net_g = define_network({'type': 'LPTN', 'nrb_low': 5, 'nrb_high': 3, 'num_high': 3})
    net_d = define_network({'type': 'Discriminator'})
    out = OrderedDict()
    for label, model, n in (('before (reference formulation, 1 thread)', reference_of(net_g), 1),
                            ('after, 1 thread', net_g, 1), (f'after, {threads} threads', net_g, threads)):
        torch.set_num_threads(n)
        ms = train_phases(copy.deepcopy(model), copy.deepcopy(net_d), lq, ref, iters)
        total = sum(ms.values())
        out[label] = {'phases_ms': ms, 'total_ms': total, 'images_per_sec': TRAIN_BATCH / total * 1e3}
        print(f'== training {label}: {total:.0f} ms an iteration, {TRAIN_BATCH / total * 1e3:.1f} images/s', flush=True)
    return out


def render(rec):
    """The README block from the record."""
    inf, tr = rec['inference'], rec['training']
    lines = [f"Measured by `{rec['command']}` ({records.provenance(rec)[len('- Command: '):].split('; ', 1)[1]}); "
             'before: the reference\'s formulation of the same weights, after: this repository\'s; alternated in '
             'one process (median of the passes).', '',
             '| inference | before (s) | after (s) | speed-up | max abs difference |', '|---|---|---|---|---|']
    for label, r in inf.items():
        lines.append(f"| {label} | {r['seconds']['before']:.3f} | {r['seconds']['after']:.3f} | "
                     f"{r['speedup']:.2f}x | {r['max_abs_diff']:.1e} |")
    lines += ['', 'Operator CPU time of one inference pass (ms; torch.profiler, self time):', '',
              '| size | operators | before | after |', '|---|---|---|---|']
    for label, r in inf.items():
        for cat in r['ops_ms']['before']:
            lines.append(f"| {label} | {cat} | {r['ops_ms']['before'][cat]:.0f} | "
                         f"{r['ops_ms']['after'].get(cat, 0.0):.0f} |")
    names = list(tr)
    lines += ['', f'One unpaired training iteration (batch {TRAIN_BATCH}, crop {TRAIN_CROP}), ms per phase:', '',
              '| phase | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
    for phase in tr[names[0]]['phases_ms']:
        lines.append(f'| {phase} | ' + ' | '.join(f"{tr[n]['phases_ms'][phase]:.0f}" for n in names) + ' |')
    lines.append('| **iteration** | ' + ' | '.join(f"**{tr[n]['total_ms']:.0f}** ({tr[n]['images_per_sec']:.1f} "
                                                  'images/s)' for n in names) + ' |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    p = FlagParser(prog='python pytorch/lptn/profile_lptn.py', description=__doc__.split('\n\n')[0])
    p.add_argument('--out', type=Path, default=Path('results/lptn_profile.json'), help='the record (JSON)')
    p.add_argument('--repeats', type=int, default=3, help='timed passes of each formulation per size')
    p.add_argument('--train_iters', type=int, default=6, help='timed training iterations per variant')
    p.add_argument('--render_only', action='store_true', help='re-render the README block from --out')
    p.add_argument('--readme', type=Path, default=README, help='the document holding the profile block')
    args = p.parse_args(argv)
    if args.repeats < 1 or args.train_iters < 1:
        raise ValueError('--repeats and --train_iters must be >= 1')
    if not args.render_only:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
        rec = records.new_record('lptn', 'pytorch', torch.__version__, 'eval',
                                 'python pytorch/lptn/profile_lptn.py --out results/lptn_profile.json',
                                 config={'repeats': args.repeats, 'train_iters': args.train_iters, 'threads': cores})
        rec['kind'] = 'profile'                    # the record layout of the benches, no evaluations
        rec['inference'] = profile_inference(args.repeats, cores)
        rec['training'] = profile_training(args.train_iters, cores)
        records.atomic_write_text(args.out, json.dumps(rec, indent=1) + '\n')
        print(f'record written to {args.out}')
    rec = json.loads(args.out.read_text(encoding='utf-8'))
    records.update_block(args.readme, render(rec), markers=MARKERS)
    print(render(rec))
    print(f'regenerated the profile block of {args.readme}')
    return 0


if __name__ == '__main__':
    run_cli(main)
