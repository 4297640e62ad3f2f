"""Export a trained RDN to ONNX (dynamic height and width) and check it against PyTorch with onnxruntime.

The graph is traced (``torch.onnx.export(..., dynamo=False)``) with input ``lr`` [N, C, H, W] and
output ``sr`` [N, C, s*H, s*W], N, H and W dynamic. onnxruntime then runs it at the export size and at a
second, odd size; the file is kept only when both match PyTorch within ``--tolerance`` (default 1e-4),
otherwise nothing is written.

Usage:
    python3 export.py --model ckpt/RDN --file_name rdn_x4        # -> rdn_x4.onnx
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

import os
import uuid
from pathlib import Path

import torch

from common.fileio import fsync_dir
from torchzoo import lifecycle
from torchzoo.cli import Parser, run_cli, str2bool
from torchzoo.onnx_check import check_opset, check_output_file, export_errors, onnx_parity, opset_range
from utils import load_model


def build_parser():
    p = Parser(description=__doc__.split('\n\n')[0], prog='export.py')
    p.add_argument('--model', required=True, help='checkpoint file, or a folder (the newest checkpoint in it)')
    p.add_argument('--file_name', default='', help='output name without extension (default: rdn_x<scale>)')
    p.add_argument('--image_height', type=int, default=48, help='LR height of the tracing input')
    p.add_argument('--image_width', type=int, default=48, help='LR width of the tracing input')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (%d to %d with this torch)' % opset_range())
    p.add_argument('--tolerance', type=float, default=1e-4, help='largest |onnxruntime - PyTorch| accepted')
    p.add_argument('--allow_pickle', type=str2bool, nargs='?', const=True, default=False,
                   help='allow the reference\'s whole-module checkpoints (runs code from the file)')
    p.add_argument('--overwrite', type=str2bool, nargs='?', const=True, default=False, help='replace an existing file')
    return p


def export_onnx(model, out, height, width, opset=17, tolerance=1e-4):
    """Write ``out`` (atomically) after the parity check; returns the largest difference found."""
    import onnx
    channels = model.SFF1.in_channels
    tmp = out.with_name(f'.{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        torch.onnx.export(model, torch.zeros(1, channels, height, width), str(tmp), dynamo=False, opset_version=opset,
                          input_names=['lr'], output_names=['sr'],
                          dynamic_axes={'lr': {0: 'batch', 2: 'height', 3: 'width'},
                                        'sr': {0: 'batch', 2: 'out_height', 3: 'out_width'}})
        onnx.checker.check_model(str(tmp))
        worst = onnx_parity(tmp, model, [(height, width), (height + 7, width + 13)], channels, 'lr', 'sr')
        if not worst <= tolerance:
            raise ValueError(f'{out}: onnxruntime differs from PyTorch by {worst:.3g} (> --tolerance {tolerance:g}); '
                             f'not written')
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return worst


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.image_height < 8 or args.image_width < 8:
        raise ValueError(f'--image_height/--image_width must be >= 8, got {args.image_height}x{args.image_width}')
    check_opset(args.opset)
    model, info = load_model(args.model, args.allow_pickle)
    scale = info['arch']['upscale']
    out = Path(f"{args.file_name or f'rdn_x{scale}'}.onnx")
    for name in (out, Path(args.file_name or out)):            # neither the name as typed nor the file on --model
        lifecycle.check_outside_data(name, '--file_name', [(args.model, '--model')])
    check_output_file(out, '--file_name')
    if out.exists() and not args.overwrite:
        raise FileExistsError(f'--file_name: {out} exists; pass --overwrite to replace it')
    with export_errors(out, '--file_name', args.opset):
        worst = export_onnx(model, out, args.image_height, args.image_width, args.opset, args.tolerance)
    print(f'exported {info["path"]} -> {out} (input lr [N, {model.SFF1.in_channels}, H, W], x{scale}, opset {args.opset}); '
          f'onnxruntime parity: max |diff| {worst:.2e} at {args.image_height}x{args.image_width} and '
          f'{args.image_height + 7}x{args.image_width + 13} (tolerance {args.tolerance:g})')


if __name__ == '__main__':
    run_cli(main)
