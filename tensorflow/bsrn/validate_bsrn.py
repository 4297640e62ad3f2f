"""BSRN validation (the reference's validate_bsrn.py with the Ascend port's SSIM and summary lines).

    python3 validate_bsrn.py --dataloader=basic_loader --data_input_path=BSD100/LR \\
        --data_truth_path=BSD100/SR --restore_path=/tmp/bsrn/model.ckpt-300000 --scales=2,3,4 \\
        --save_path=result-pictures

For every scale and image: the output of every recursion and their ensemble, scored against the HR
image. Default metric: the published protocol of common.metrics (Y of BT.601, crop = scale, SSIM of
Wang et al. 2004), printed with its label. ``--metric=rgb`` gives the reference's figures (RGB,
``--shave_size`` pixels, 4 by default). Per scale it prints the mean PSNR of t1..tR and the ensemble
(comma separated, as the reference) and the SSIM line, then ``Final PSNR: ...`` / ``Final SSIM: ...``
(the ensemble per scale, space separated, as the Ascend port). ``--save_path`` gets
``t{t}/x{s}/<name>.png`` and ``ensemble/x{s}/<name>.png`` (each folder built atomically).
"""

import flags
from common.cli import int_flag, run_cli, str2bool


def build_parser():
    p = flags.parser(__doc__)
    g = p.add_argument_group('validation (validate_bsrn.py)')
    g.add_argument('--dataloader', default='basic_loader', choices=flags.DATALOADERS, help='Default: basic_loader')
    g.add_argument('--data_input_path', default='LR', help='LR folder with x{s}/ (X{s}/ for div2k_loader). Default: LR')
    g.add_argument('--data_truth_path', default='HR', help='HR folder. Default: HR')
    g.add_argument('--scales', default='2,3,4', help='Default: 2,3,4')
    g.add_argument('--restore_path', required=True, help='checkpoint prefix or folder')
    g.add_argument('--restore_target', default=None, help='accepted for the reference (only the generator is read)')
    g.add_argument('--restore_global_step', type=int_flag, default=0,
                   help='with a folder: the checkpoint of this step (0: the newest). Default: 0')
    g.add_argument('--save_path', default=None, help='write SR images here. Default: None')
    g.add_argument('--shave_size', type=int_flag, default=4, help='border shaved by --metric=rgb. Default: 4')
    g.add_argument('--ensemble_only', type=str2bool, default=False, help='score only the ensemble. Default: False')
    g.add_argument('--metric', default='y', choices=('y', 'rgb'),
                   help="y: published protocol (Y, crop = scale); rgb: the reference's RGB, --shave_size. Default: y")
    g.add_argument('--overwrite', type=str2bool, default=False, help='replace folders under --save_path. Default: False')
    flags.add_model_flags(p)
    flags.add_session_flags(p, chip_default='cpu')
    return p


def checkpoint_arg(args):
    """--restore_path, or its model.ckpt-{--restore_global_step} when it is a folder and the step is set."""
    from pathlib import Path
    path = Path(args.restore_path)
    if path.is_dir() and args.restore_global_step:
        return str(path / f'model.ckpt-{args.restore_global_step}')
    return args.restore_path


def main(argv=None):
    args = build_parser().parse_args(argv)
    flags.check_model_args(args)
    if args.shave_size < 0:
        raise ValueError(f'--shave_size={args.shave_size}: must be >= 0')
    import importlib
    loader = importlib.import_module(f'dataloaders.{args.dataloader}')
    data = loader.create_loader(args.data_input_path, args.data_truth_path, args.scale_list)   # checks every pair
    if args.save_path:
        from common.fileio import check_disjoint, check_outside_checkpoint
        check_disjoint(args.save_path, args.data_input_path, '--save_path', '--data_input_path')
        check_outside_checkpoint(args.save_path, args.restore_path, '--save_path', '--restore_path')
    args.restore_path = checkpoint_arg(args)
    import evaluation
    return evaluation.validate(args, data)


if __name__ == '__main__':
    run_cli(main)
