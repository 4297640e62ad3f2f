"""RCAN (TF1 graph, Ascend ModelZoo RCAN_ID0268): train, test with metrics, or super-resolve images.

    python3 main.py --mode train --train_GT_path DIV2K/DIV2K_train_HR \\
        --train_LR_path DIV2K/DIV2K_train_LR_bicubic/X2 --scale 2
    python3 main.py --mode test --pre_trained_model ./model_dir/RCAN_X2_64_10_20-1000000 \\
        --test_LR_path Set5/LR_bicubic/x2 --test_GT_path Set5/HR/x2 --scale 2 --self_ensemble False
    python3 main.py --mode test_only --pre_trained_model ./model_dir --test_LR_path my_images --scale 2

Flags and defaults are the reference's (dongheehand/RCAN-tf as adapted by ModelZoo); the additions
(--seed, --resume, --overwrite, --keep_checkpoint_max, --dataset_enlarge_ratio, --log_dir,
--precision_mode, --intra_op_threads, --inter_op_threads) are listed in README.md. Every input is
checked before TensorFlow loads; a bad one is one ``error: ...`` line and exit code 2.
"""
import os
from pathlib import Path

from common.cli import FlagParser, int_flag, run_cli, str2bool

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')      # TensorFlow's C++ INFO lines off, warnings kept
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')     # oneDNN kernels: about 2x faster training on CPU

MODES = ('train', 'test', 'test_only')


def build_parser():
    """The reference's flags (same names, types and defaults) plus this port's additions."""
    p = FlagParser(description=__doc__.split('\n\n')[0])
    model = p.add_argument_group('model specification')
    model.add_argument('--channel', type=int_flag, default=3, help='image channels (RGB only). Default: 3')
    model.add_argument('--scale', type=int_flag, default=2, help='SR scale: 2, 3 or 4. Default: 2')
    model.add_argument('--n_feats', type=int_flag, default=64, help='feature channels. Default: 64')
    model.add_argument('--n_RG', type=int_flag, default=10, help='residual groups. Default: 10')
    model.add_argument('--n_RCAB', type=int_flag, default=20, help='RCABs per group. Default: 20')
    model.add_argument('--kernel_size', type=int_flag, default=3, help='conv kernel side. Default: 3')
    model.add_argument('--ratio', type=int_flag, default=16, help='channel-attention reduction. Default: 16')

    data = p.add_argument_group('data specification')
    data.add_argument('--train_GT_path', default='./HR', help='HR training images (folder or LMDB). Default: ./HR')
    data.add_argument('--train_LR_path', default='./LR', help='LR training images (folder or LMDB). Default: ./LR')
    data.add_argument('--test_GT_path', default='./val_HR', help='HR test images. Default: ./val_HR')
    data.add_argument('--test_LR_path', default='./val_LR', help='LR test images. Default: ./val_LR')
    data.add_argument('--patch_size', type=int_flag, default=48, help='LR training patch side. Default: 48')
    data.add_argument('--result_path', default='result', help='where SR images go. Default: result')
    data.add_argument('--model_path', default='./model_dir', help='checkpoint folder. Default: ./model_dir')
    data.add_argument('--in_memory', type=str2bool, default=True,
                      help='decode all training images up front (else tf.data reads them). Default: True')

    opt = p.add_argument_group('optimization')
    opt.add_argument('--batch_size', type=int_flag, default=16, help='Default: 16')
    opt.add_argument('--max_step', type=int_flag, default=1000000, help='training steps. Default: 1e6')
    opt.add_argument('--learning_rate', type=float, default=1e-4, help='Adam learning rate. Default: 1e-4')
    opt.add_argument('--decay_step', type=int_flag, default=200000, help='lr decay period. Default: 2e5')
    opt.add_argument('--decay_rate', type=float, default=0.5, help='lr factor per period. Default: 0.5')
    opt.add_argument('--test_with_train', type=str2bool, default=False,
                     help='score the test set at every log step into RCAN_X{s}_train_log.txt. Default: False')
    opt.add_argument('--save_test_result', type=str2bool, default=False,
                     help='--mode test also writes SR images to --result_path. Default: False')

    run = p.add_argument_group('training or test specification')
    run.add_argument('--mode', default='train', choices=MODES, help='Default: train')
    run.add_argument('--fine_tuning', type=str2bool, default=False,
                     help='start from --pre_trained_model. Default: False')
    run.add_argument('--load_tail_part', type=str2bool, default=True,
                     help='fine-tuning also restores up_sample and conv_rec (False: x2 -> x3/x4). Default: True')
    run.add_argument('--log_freq', type=int_flag, default=10000, help='log every N steps. Default: 1e4')
    run.add_argument('--model_save_freq', type=int_flag, default=200000, help='checkpoint every N steps. Default: 2e5')
    run.add_argument('--pre_trained_model', default='./', help='checkpoint prefix or folder. Default: ./')
    run.add_argument('--self_ensemble', type=str2bool, default=False, help='x8 self-ensemble. Default: False')
    run.add_argument('--chop_forward', type=str2bool, default=False, help='tiled inference. Default: False')
    run.add_argument('--chop_shave', type=int_flag, default=10, help='tile margin, LR px. Default: 10')
    run.add_argument('--chop_size', type=int_flag, default=40000, help='largest tile, LR pixels. Default: 4e4')
    run.add_argument('--test_batch', type=int_flag, default=1, help='test batch (only 1). Default: 1')
    run.add_argument('--test_set', default='benchmark', help='name in the result file name. Default: benchmark')

    port = p.add_argument_group('additions of this port')
    port.add_argument('--seed', type=int_flag, default=1, help='initialisation and data order. Default: 1')
    port.add_argument('--resume', type=str2bool, default=False,
                      help='continue the run in --model_path from its newest checkpoint. Default: False')
    port.add_argument('--overwrite', type=str2bool, default=False,
                      help="start over in a --model_path that holds another run's checkpoints; test modes and "
                           "export.py: replace earlier output files. Default: False")
    port.add_argument('--record_ranks', type=str2bool, default=False,
                      help='write ranks.json into the run folder (chief only): workers, per-worker and global batch, steps, images/s of the global batch after the first step, the chief\'s shard. Default: False')
    port.add_argument('--keep_checkpoint_max', type=int_flag, default=0, help='0 keeps all. Default: 0')
    port.add_argument('--dataset_enlarge_ratio', type=int_flag, default=1,
                      help='an epoch visits every image this many times. Default: 1')
    port.add_argument('--log_dir', default='./logs', help='TensorBoard summaries. Default: ./logs')
    port.add_argument('--precision_mode', default='allow_fp32_to_fp16',
                      help='Ascend float16 policy (used where npu_bridge imports). Default: allow_fp32_to_fp16')
    port.add_argument('--intra_op_threads', type=int_flag, default=0, help='0: all cores of this process. Default: 0')
    port.add_argument('--inter_op_threads', type=int_flag, default=1, help='Default: 1')
    port.add_argument('--bicubic_skip', type=str2bool, default=False,
                      help='not in the reference (the bench preset uses it): add the bicubic upscale of the input '
                           'to the output, so the network learns the residual. Saved in the checkpoint '
                           '(variable bicubic_skip), which the test modes and export.py follow. Default: False')
    return p


def check_args(args):
    """Value checks that argparse's types cannot make (one ValueError line naming the flag)."""
    if args.scale not in (2, 3, 4):
        raise ValueError(f'--scale={args.scale}: the RCAN upsampler supports 2, 3 and 4')
    if args.channel != 3:
        raise ValueError(f'--channel={args.channel}: only 3 (RGB) is supported; the mean shift is RGB')
    positive = ('n_feats', 'n_RG', 'n_RCAB', 'kernel_size', 'ratio', 'patch_size', 'batch_size', 'max_step',
                'decay_step', 'log_freq', 'model_save_freq', 'chop_size', 'dataset_enlarge_ratio')
    for key in positive:
        if getattr(args, key) < 1:
            raise ValueError(f'--{key}={getattr(args, key)}: must be >= 1')
    for key in ('chop_shave', 'keep_checkpoint_max', 'seed', 'intra_op_threads', 'inter_op_threads'):
        if getattr(args, key) < 0:
            raise ValueError(f'--{key}={getattr(args, key)}: must be >= 0')
    if args.kernel_size % 2 == 0:
        raise ValueError(f'--kernel_size={args.kernel_size}: must be odd')
    if args.n_feats < args.ratio:
        raise ValueError(f'--n_feats={args.n_feats} with --ratio={args.ratio}: the channel attention would have '
                         f'no channels (need n_feats >= ratio)')
    if not args.learning_rate > 0 or not args.decay_rate > 0:
        raise ValueError('--learning_rate and --decay_rate must be > 0')
    if args.test_batch != 1:
        raise ValueError(f'--test_batch={args.test_batch}: test images differ in size; only 1 is supported')
    if args.chop_forward:
        from util import chop_layout
        chop_layout(args.chop_size, args.chop_shave)
    if args.mode == 'test_only' or (args.mode == 'test' and args.save_test_result):
        from common.fileio import check_disjoint, check_outside_checkpoint
        if Path(args.result_path).exists() and not Path(args.result_path).is_dir():
            raise ValueError(f'--result_path={args.result_path}: is a file, expected a folder')
        check_disjoint(args.result_path, args.test_LR_path, '--result_path', '--test_LR_path')
        check_outside_checkpoint(args.result_path, args.pre_trained_model, '--result_path', '--pre_trained_model')
    if args.mode == 'train':
        from common.fileio import check_disjoint
        sources = [('--train_GT_path', args.train_GT_path), ('--train_LR_path', args.train_LR_path)]
        if args.test_with_train:
            sources += [('--test_GT_path', args.test_GT_path), ('--test_LR_path', args.test_LR_path)]
        for out_flag, out in (('--model_path', args.model_path), ('--log_dir', args.log_dir)):
            for src_flag, src in sources:
                check_disjoint(out, src, out_flag, src_flag)
    if args.resume and args.fine_tuning:
        raise ValueError('--resume continues a run, --fine_tuning starts one from --pre_trained_model: pick one')


def load_data(args):
    """Read and check every image the mode needs (before TensorFlow loads); returns a dict."""
    from data_loader import PairedImages
    data = {}
    if args.mode == 'train':
        data['train'] = PairedImages(args.train_LR_path, args.train_GT_path, args.scale, in_memory=args.in_memory,
                                     patch_size=args.patch_size)
    if args.mode == 'test' or (args.mode == 'train' and args.test_with_train):
        data['test'] = PairedImages(args.test_LR_path, args.test_GT_path, args.scale,
                                    lr_flag='--test_LR_path', hr_flag='--test_GT_path')
    if args.mode == 'test_only':
        data['test'] = PairedImages(args.test_LR_path, None, args.scale, lr_flag='--test_LR_path')
    return data


def check_outputs(args, data):
    """The SR images a test mode would write: one that exists already is refused without --overwrite."""
    if not (args.mode == 'test_only' or (args.mode == 'test' and args.save_test_result)):
        return
    from util import sr_file_name
    for name in data['test'].names:
        target = Path(args.result_path) / sr_file_name(name, args.scale)
        if target.is_dir() or (target.exists() and not args.overwrite):
            what = 'is a folder' if target.is_dir() else 'exists (an earlier output); pass --overwrite True to replace it'
            raise FileExistsError(f'--result_path={args.result_path}: {target.name} {what}')


def main(argv=None):
    """Parse, check, load the data, then run the mode; returns the mode's summary dict."""
    args = build_parser().parse_args(argv)
    check_args(args)
    data = load_data(args)
    check_outputs(args, data)
    import mode                   # TensorFlow loads here, after every input was checked
    return mode.run(args, data)


if __name__ == '__main__':
    run_cli(main)
