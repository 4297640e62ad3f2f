"""Export an LPTN generator to ONNX and check it against PyTorch with onnxruntime.

The graph is traced (``torch.onnx.export(..., dynamo=False)``), input ``input`` [N, 3, H, W] and output
``output`` of the same shape, with N, H and W dynamic. onnxruntime runs it at the tracing size and at
a second, odd size; the file is written (atomically) only when both match PyTorch within
``--tolerance``, otherwise nothing is written.

Usage:
    python3 export.py -opt options/test/LPTN/test_FiveK.yml --file_name lptn     # -> lptn.onnx
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

import io
import warnings
from pathlib import Path

import torch

from common.fileio import atomic_write_bytes
from models.lptn_test_model import LPTNTestModel
from torchzoo import lifecycle
from torchzoo.cli import Parser, run_cli, str2bool
from torchzoo.onnx_check import check_opset, check_output_file, export_errors, onnx_parity, opset_range
from utils.options import parse


def build_parser():
    p = Parser(description=__doc__.split('\n\n')[0], prog='export.py')
    p.add_argument('-opt', '--opt', required=True, help='test options (network_g, path.pretrain_network_g)')
    p.add_argument('--force_yml', nargs='+', action='extend', default=[], metavar='KEY=VALUE', help='override options')
    p.add_argument('--file_name', default='lptn', help='output name without extension')
    p.add_argument('--image_height', type=int, default=256, help='height of the tracing input')
    p.add_argument('--image_width', type=int, default=256, help='width of the tracing input')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (%d to %d with this torch)' % opset_range())
    p.add_argument('--tolerance', type=float, default=1e-4, help='largest |onnxruntime - PyTorch| accepted')
    p.add_argument('--overwrite', type=str2bool, nargs='?', const=True, default=False, help='replace an existing file')
    return p


MIN_OPSET = 11         # the pyramid's and the mask's nearest resizes: onnx Upsample (opset <= 10) rounds otherwise


def onnx_bytes(net_g, height, width, opset=17):
    """The traced graph as bytes."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        torch.onnx.export(net_g, torch.rand(1, 3, height, width), buf, input_names=['input'], output_names=['output'],
                          dynamic_axes={'input': {0: 'n', 2: 'h', 3: 'w'}, 'output': {0: 'n', 2: 'h', 3: 'w'}},
                          opset_version=opset, dynamo=False)
    return buf.getvalue()


def export_onnx(net_g, out, height, width, opset=17, tolerance=1e-4, overwrite=False):
    """Trace, check at (height, width) and an odd second size, then write ``out``; returns the worst difference."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out}: exists; pass --overwrite to replace it')
    net_g = net_g.cpu().eval()
    data = onnx_bytes(net_g, height, width, opset)
    worst = onnx_parity(data, net_g, [(height, width), (height // 2 + 37, width // 2 + 53)], 3, 'input', 'output')
    if worst > tolerance:
        raise ValueError(f'onnxruntime differs from PyTorch by {worst:.3g} > --tolerance={tolerance}; nothing written')
    atomic_write_bytes(out, data)
    return worst


def main(argv=None):
    args = build_parser().parse_args(argv)
    if min(args.image_height, args.image_width) < 16:
        raise ValueError('--image_height and --image_width must be >= 16')
    check_opset(args.opset)
    if args.opset < MIN_OPSET:
        raise ValueError(f'--opset={args.opset}: ONNX resizes match PyTorch\'s nearest interpolation from opset '
                         f'{MIN_OPSET} (Resize); give {MIN_OPSET} or higher, e.g. the default 17')
    opt = parse(args.opt, 'test', args.force_yml)
    out = Path(f'{args.file_name}.onnx')
    generator = opt['path'].get('pretrain_network_g')
    for name in (out, Path(args.file_name)):                  # neither the name as typed nor on the generator
        lifecycle.check_outside_data(name, '--file_name', [(generator, 'path.pretrain_network_g')])
    check_output_file(out, '--file_name')
    if out.exists() and not args.overwrite:
        raise FileExistsError(f'--file_name: {out} exists; pass --overwrite to replace it')
    model = LPTNTestModel(opt, torch.device('cpu'))
    if model.load_warning:
        print(f'warning: {model.load_warning}', flush=True)
    with export_errors(out, '--file_name', args.opset):
        worst = export_onnx(model.net_g, out, args.image_height, args.image_width, args.opset, args.tolerance,
                            args.overwrite)
    print(f'{out}: onnxruntime matches PyTorch within {worst:.2e} at {args.image_height}x{args.image_width} and an odd size')


if __name__ == '__main__':
    run_cli(main)
