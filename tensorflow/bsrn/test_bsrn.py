"""Super-resolve a folder of images (the reference's test_bsrn.py): ``--output_path/x{s}/<name>.png``.

    python3 test_bsrn.py --restore_path=/tmp/bsrn/model.ckpt-1000000 --scales 4 --input_path LR --output_path SR

Each output is the ensemble of the recursions' outputs. Every input is read first (a corrupt image
stops the run before anything is written); each ``x{s}`` folder is built in a hidden temporary and
swapped in at once.
"""
from pathlib import Path

import flags
from common.cli import int_flag, run_cli, str2bool

MARKER = '.bsrn_test'


def build_parser():
    p = flags.parser(__doc__)
    g = p.add_argument_group('test (test_bsrn.py)')
    g.add_argument('--restore_path', required=True, help='checkpoint prefix or folder')
    g.add_argument('--restore_global_step', type=int_flag, default=0,
                   help='with a folder: the checkpoint of this step (0: the newest). Default: 0')
    g.add_argument('--scales', default='4', help='Default: 4')
    g.add_argument('--input_path', default='LR', help='folder of LR images. Default: LR')
    g.add_argument('--output_path', default='SR', help='SR images go to x{s}/ here. Default: SR')
    g.add_argument('--overwrite', type=str2bool, default=False, help='replace an x{s} folder this tool wrote. Default: False')
    flags.add_model_flags(p)
    flags.add_session_flags(p, chip_default='cpu')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    flags.check_model_args(args)
    from common.imgio import write_image
    from common.fileio import building_dir, check_disjoint, check_outside_checkpoint
    from dataloaders.base_loader import images_in, read_rgb
    files = images_in(args.input_path, '--input_path')
    check_disjoint(args.output_path, args.input_path, '--output_path', '--input_path')
    check_outside_checkpoint(args.output_path, args.restore_path, '--output_path', '--restore_path')
    images = [(f.stem, read_rgb(f)) for f in files]             # all decoded before any output
    import validate_bsrn
    args.restore_path = validate_bsrn.checkpoint_arg(args)
    from inference import Upscaler
    up = Upscaler(args)
    written = []
    try:
        for scale in args.scale_list:
            target = Path(args.output_path) / f'x{scale}'
            target.parent.mkdir(parents=True, exist_ok=True)
            with building_dir(target, overwrite=args.overwrite, marker=MARKER) as tmp:
                (Path(tmp) / MARKER).write_text('written by test_bsrn.py\n')
                for name, lr in images:
                    write_image(Path(tmp) / f'{name}.png', up.upscale(lr, scale)[:, :, ::-1])
                    written.append(str(target / f'{name}.png'))
            print(f'x{scale}: {len(images)} images written to {target}', flush=True)
    finally:
        up.close()
    return {'written': written}


if __name__ == '__main__':
    run_cli(main)
