"""Super-resolve an image or a folder of images with a trained RDN (the port's inference.py, extended).

``--model`` is a checkpoint file or a folder of them (this repository's ``ckpt/RDN/rdn-*.pth``, or the
reference's ``ckpt/RDN/model_epoch_N.pth`` with ``--allow_pickle``). Y models (the ``reference``
preset) super-resolve Y in the colour pipeline they were trained with (``--ycbcr=auto``: stored in the
checkpoint; the reference's pickles mean its PIL pipeline): 'bt601' reads MATLAB's studio-range Y and
takes Cb/Cr from the MATLAB-bicubic upscale, 'pil' reads PIL's full-range Y and rebuilds colour as the
reference's ``inference.py`` (PIL's bicubic Cb/Cr, PIL's conversion). RGB models run all channels.
Large images run in tiles (``common.inference.tiled_predict``); ``--self_ensemble`` averages the 8
flips/rotations. ``--compare`` treats each input as the HR image: it is mod-cropped and degraded with
MATLAB bicubic, super-resolved, scored, and a bicubic | RDN | HR crop is written beside the SR image.

Usage:
    python3 inference.py --input_image photo.png --model ckpt/RDN --output_filename photo_x4.png
    python3 inference.py --input_image /data/Set5/HR/x4 --model ckpt/RDN --compare
"""
# First, before torch loads: importing torchzoo sets the OpenMP wait policy (torchzoo/__init__.py).
import torchzoo  # noqa: F401

from pathlib import Path

import numpy as np
import torch

from common.data import bicubic_lr, modcrop
from common.fileio import building_dir, check_disjoint
from common.imgio import list_images, read_image, write_image
from common.imresize import imresize
from common.metrics import evaluate_pairs, protocol
from common.visual import detail_box, side_by_side
from torchzoo.cli import Parser, run_cli, str2bool
from dataset import YCBCR
from torchzoo.device import DEVICES, select_device
from utils import load_model, super_resolve


def build_parser():
    p = Parser(description=__doc__.split('\n\n')[0], prog='inference.py')
    bool_flag = dict(type=str2bool, nargs='?', const=True, default=False)
    p.add_argument('--input_image', required=True, help='an image file or a folder of images')
    p.add_argument('--model', required=True, help='checkpoint file, or a folder (the newest checkpoint in it)')
    p.add_argument('--output_filename', default='', help='output image (a file input) or folder (a folder input); '
                   'default: <stem>_rdn_x<s>.png beside the file, or <folder>_rdn_x<s>/')
    p.add_argument('--cuda', **bool_flag, help='run on CUDA (the reference\'s flag; same as --device=cuda)')
    p.add_argument('--device', default='cpu', choices=DEVICES, help='where to run')
    p.add_argument('--tile', type=int, default=512, help='tile side in LR pixels for large images (0: whole images)')
    p.add_argument('--tile_overlap', type=int, default=32, help='overlap of neighbouring tiles in LR pixels')
    p.add_argument('--self_ensemble', **bool_flag, help='average the 8 flips/rotations (x8 slower, RDN+)')
    p.add_argument('--compare', **bool_flag, help='inputs are HR images: degrade, super-resolve, score, and write '
                   'bicubic | RDN | HR crops (<stem>_compare_x<s>.png)')
    p.add_argument('--allow_pickle', **bool_flag, help='allow the reference\'s whole-module checkpoints '
                   '(unpickling runs code from the file: only for files you trust)')
    p.add_argument('--ycbcr', default='auto', choices=('auto',) + YCBCR,
                   help='Y networks: the colour pipeline; auto: the one the checkpoint was trained with; bt601: '
                   'MATLAB\'s studio-range Y, MATLAB-bicubic Cb/Cr; pil: PIL\'s full-range Y and colour rebuild '
                   '(the reference\'s inference.py)')
    p.add_argument('--truncate_y', **bool_flag, help='with the pil pipeline: truncate the network\'s Y to uint8 as '
                   'the reference does (np.uint8; up to one grey level darker) instead of rounding')
    p.add_argument('--overwrite', **bool_flag, help='replace existing outputs')
    return p


def _outputs(inputs, args, scale):
    """(paths to read, output folder or None, output file or None).

    An output that is, contains or lies inside the input is refused, with or without --overwrite.
    """
    src = Path(args.input_image)
    if src.is_dir():
        paths = list_images(src)
        out_dir = Path(args.output_filename) if args.output_filename else src.parent / f'{src.name}_rdn_x{scale}'
        check_disjoint(out_dir, src, '--output_filename', '--input_image')
        if out_dir.exists() and not args.overwrite:
            raise FileExistsError(f'--output_filename={out_dir}: exists; pass --overwrite to replace it')
        return paths, out_dir, None
    if not src.is_file():
        raise FileNotFoundError(f'--input_image={src}: no such file or folder')
    out = Path(args.output_filename) if args.output_filename else src.with_name(f'{src.stem}_rdn_x{scale}.png')
    if out.suffix.lower() not in ('.png', '.bmp', '.tif', '.tiff', '.jpg', '.jpeg'):
        raise ValueError(f'--output_filename={out}: give an image file name (.png, ...)')
    check_disjoint(out, src, '--output_filename', '--input_image')
    if args.compare:
        check_disjoint(out.with_name(f'{src.stem}_compare_x{scale}.png'), src, '--output_filename (its compare panel)',
                       '--input_image')
    if out.exists() and not args.overwrite:
        raise FileExistsError(f'--output_filename={out}: exists; pass --overwrite to replace it')
    return [src], None, out


def process(model, path, scale, device, args):
    """SR of one file: ``(sr, compare panel or None, scores or None)``."""
    img = read_image(path, bits=8)
    run = dict(tile=args.tile, overlap=args.tile_overlap, self_ensemble=args.self_ensemble,
               ycbcr=args.ycbcr or 'bt601', truncate_y=args.truncate_y)
    if not args.compare:
        sr, _ = super_resolve(model, img, scale, device, **run)
        return sr, None, None
    hr = np.ascontiguousarray(modcrop(img, scale))
    lr = bicubic_lr(hr, scale)
    sr, _ = super_resolve(model, lr, scale, device, **run)
    up = imresize(lr, scale=scale)
    scores = {name: evaluate_pairs([(path.stem, out, hr)], crop_border=scale)[0] for name, out in
              (('bicubic', up), ('rdn', sr))}
    box = detail_box(hr, 96)
    labels = [f"bicubic {scores['bicubic']['psnr']:.2f} dB", f"RDN {scores['rdn']['psnr']:.2f} dB", 'HR']
    return sr, ([up, sr, hr], labels, box), scores


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.tile < 0 or not 0 <= args.tile_overlap < max(args.tile, 1):
        raise ValueError(f'--tile={args.tile} / --tile_overlap={args.tile_overlap}: need tile >= 0 and 0 <= overlap < tile')
    device = select_device('cuda' if args.cuda else args.device)
    model, info = load_model(args.model, args.allow_pickle)
    scale = info['arch']['upscale']
    if info['ycbcr'] is None:
        if args.ycbcr != 'auto':
            raise ValueError(f'--ycbcr={args.ycbcr}: {info["path"]} is an RGB network; the Y pipelines are for Y ones')
        args.ycbcr, pipeline = None, 'RGB'
    elif args.ycbcr == 'auto':
        args.ycbcr, pipeline = info['ycbcr'], f"Y {info['ycbcr']} ({info['ycbcr_from']})"
    else:
        pipeline = f"Y {args.ycbcr} (--ycbcr; the checkpoint's is {info['ycbcr']}, {info['ycbcr_from']})"
    if args.truncate_y and args.ycbcr != 'pil':
        raise ValueError(f'--truncate_y: only for the pil pipeline (this run: {pipeline})')
    print(f"=============> Load model: {info['path']} ({info['source']}; x{scale}, {info['preset']} preset; "
          f"{pipeline})", flush=True)
    model = model.to(device)
    paths, out_dir, out_file = _outputs(args.input_image, args, scale)
    label = protocol(scale)['label']
    results = []

    def run_all(folder):
        for path in paths:
            sr, panel, scores = process(model, path, scale, device, args)
            target = out_file if folder is None else folder / f'{path.stem}.png'
            write_image(target, sr)
            if panel is not None:
                side_by_side(*panel[:2], target.with_name(f'{path.stem}_compare_x{scale}.png'), box=panel[2], zoom=2)
                results.append(scores)
                print(f"{path.name}: bicubic {scores['bicubic']['psnr']:.4f} dB / {scores['bicubic']['ssim']:.4f}, "
                      f"RDN {scores['rdn']['psnr']:.4f} dB / {scores['rdn']['ssim']:.4f} [{label}]", flush=True)
            else:
                print(f'{path.name} -> {target}', flush=True)

    with torch.no_grad():
        if out_dir is None:
            run_all(None)
        else:
            with building_dir(out_dir, overwrite=args.overwrite) as tmp:
                run_all(tmp)
            print(f'=============> wrote {len(paths)} images to {out_dir}', flush=True)
    if results:
        mean = {k: np.mean([r[k]['psnr'] for r in results]) for k in ('bicubic', 'rdn')}
        print(f"mean of {len(results)}: bicubic {mean['bicubic']:.4f} dB, RDN {mean['rdn']:.4f} dB [{label}]")


if __name__ == '__main__':
    run_cli(main)
