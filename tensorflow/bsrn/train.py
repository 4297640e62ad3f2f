"""BSRN training (idearibosome/tf-bsrn-sr ``train.py`` with the Ascend BSRN_ID1296 additions).

    python3 train.py --dataloader=div2k_loader --data_input_path=DIV2K/DIV2K_train_LR_bicubic \\
        --data_truth_path=DIV2K/DIV2K_train_HR --train_path=/tmp/bsrn --model=bsrn --scales=2,3,4 \\
        --bsrn_clip_norm=5

Each step draws a scale from --scales and a batch of random patches (seeded by --seed and the global
step), trains one Adam step on the weighted L1 of the intermediate outputs, and every --log_freq steps
prints ``step %d, scale x%d, loss %.6f  sec/batch %.3f fps %.3f`` (the Ascend port's line). Summaries
go to ``--train_path/x{s}``, checkpoints ``--train_path/model.ckpt-{step}`` every --save_freq steps
and at the end (kill-safe, tfzoo.checkpoint). ``--resume=True`` continues the run in --train_path
exactly; ``--restore_path`` starts from another checkpoint, e.g. the authors' released one.
"""
import flags
from common.cli import int_flag, run_cli, str2bool


def build_parser():
    """The reference's train.py and bsrn flags, the Ascend port's, and this port's additions."""
    p = flags.parser(__doc__)
    g = p.add_argument_group('training (train.py)')
    g.add_argument('--batch_size', type=int_flag, default=8, help='Default: 8')
    g.add_argument('--input_patch_size', type=int_flag, default=48, help='LR patch side. Default: 48')
    g.add_argument('--target_patch_size', type=int_flag, default=-1,
                   help='accepted for the reference (the HR patch is scale x input). Default: -1')
    g.add_argument('--dataloader', default='basic_loader', choices=flags.DATALOADERS, help='Default: basic_loader')
    g.add_argument('--data_input_path', default='LR', help='LR folder (x{s}/ or X{s}/ inside). Default: LR')
    g.add_argument('--data_truth_path', default='HR', help='HR folder. Default: HR')
    g.add_argument('--data_cached', type=str2bool, nargs='?', const=True, default=False,
                   help='decode every image once and keep it in memory. Default: False')
    g.add_argument('--scales', default='2,3,4', help='training scales, one drawn per step. Default: 2,3,4')
    g.add_argument('--train_path', default='./train/', help='checkpoints and summaries. Default: ./train/')
    g.add_argument('--max_steps', type=int_flag, default=1000000, help='Default: 1000000')
    g.add_argument('--log_freq', type=int_flag, default=10, help='Default: 10')
    g.add_argument('--summary_freq', type=int_flag, default=1000, help='Default: 1000')
    g.add_argument('--save_freq', type=int_flag, default=50000, help='Default: 50000')
    g.add_argument('--save_max_keep', type=int_flag, default=1000, help='checkpoints kept. Default: 1000')
    g.add_argument('--sleep_ratio', type=float, default=0.05,
                   help='sleep min(10, this x step time) after each step, as the reference. Default: 0.05')
    g.add_argument('--restore_path', default=None,
                   help='start from this checkpoint (prefix or folder), e.g. bsrn_c64_s64_x234.ckpt. Default: None')
    g.add_argument('--restore_target', default=None, choices=(None, 'generator'),
                   help="'generator': restore only the weights, not Adam's state. Default: None (all)")
    g.add_argument('--global_step', type=int_flag, default=0,
                   help='global step to start at with --restore_path. Default: 0')
    flags.add_model_flags(p)
    m = p.add_argument_group('optimisation (models/bsrn.py)')
    m.add_argument('--bsrn_learning_rate', type=float, default=1e-4, help='Default: 1e-4')
    m.add_argument('--bsrn_learning_rate_decay', type=float, default=0.5, help='Default: 0.5')
    m.add_argument('--bsrn_learning_rate_decay_steps', type=int_flag, default=200000, help='Default: 200000')
    m.add_argument('--bsrn_adam_epsilon', type=float, default=1e-8, help='Default: 1e-8')
    m.add_argument('--bsrn_clip_norm', type=float, default=-1, help='per-gradient norm clip; < 0 off. Default: -1')
    a = p.add_argument_group('Ascend port (BSRN_ID1296)')
    a.add_argument('--platform', default='linux', choices=('linux', 'modelarts'), help='Default: linux')
    a.add_argument('--obs_dir', default=None, help='ModelArts OBS folder (unused off ModelArts). Default: None')
    flags.add_session_flags(p)
    x = p.add_argument_group('additions of this port')
    x.add_argument('--seed', type=int_flag, default=1, help='initialisation, scales and patches. Default: 1')
    x.add_argument('--resume', type=str2bool, default=False,
                   help='continue the run in --train_path from its newest checkpoint. Default: False')
    x.add_argument('--overwrite', type=str2bool, default=False,
                   help="start over in a --train_path holding another run. Default: False")
    x.add_argument('--record_ranks', type=str2bool, default=False,
                   help='write ranks.json into the run folder (chief only): workers, per-worker and global batch, steps, images/s of the global batch after the first step, the chief\'s shard. Default: False')
    return p


def check_args(args):
    """Value checks (one ValueError line naming the flag)."""
    flags.check_model_args(args)
    for key in ('batch_size', 'input_patch_size', 'max_steps', 'log_freq', 'summary_freq', 'save_freq',
                'save_max_keep', 'bsrn_learning_rate_decay_steps'):
        if getattr(args, key) < 1:
            raise ValueError(f'--{key}={getattr(args, key)}: must be >= 1')
    if not args.bsrn_learning_rate > 0 or not args.bsrn_learning_rate_decay > 0:
        raise ValueError('--bsrn_learning_rate and --bsrn_learning_rate_decay must be > 0')
    if args.sleep_ratio < 0 or args.global_step < 0:
        raise ValueError('--sleep_ratio and --global_step must be >= 0')
    from common.fileio import check_disjoint
    for flag in ('--data_input_path', '--data_truth_path'):
        check_disjoint(args.train_path, getattr(args, flag[2:]), '--train_path', flag)
    if args.resume and args.restore_path:
        raise ValueError('--resume continues the run in --train_path, --restore_path starts one: pick one')


def load_data(args):
    """The training loader (every pair checked before TensorFlow loads)."""
    import importlib
    loader = importlib.import_module(f'dataloaders.{args.dataloader}')
    return loader.create_loader(args.data_input_path, args.data_truth_path, args.scale_list, cached=args.data_cached)


def main(argv=None):
    """Parse, check, load the data, train; returns a summary dict."""
    args = build_parser().parse_args(argv)
    check_args(args)
    data = load_data(args)
    import trainer                  # TensorFlow loads here, after every input was checked (trainer never imports train)
    return trainer.train(args, data)


if __name__ == '__main__':
    run_cli(main)
