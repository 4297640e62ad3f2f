"""Flags shared by train.py, validate_bsrn.py, test_bsrn.py and export.py: the reference's names,
types and defaults (``models/bsrn.py``'s ``bsrn_*`` and the entry scripts' own), parsed strictly."""
import os
import sys

from common.cli import FlagParser, int_flag, str2bool

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')       # TensorFlow's C++ INFO/notice lines off
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')     # oneDNN kernels: about 1.4x faster training on CPU

__all__ = ['MODELS', 'DATALOADERS', 'parser', 'add_model_flags', 'add_session_flags', 'parse_scales',
           'model_from_args', 'check_model_args']

MODELS = ('bsrn',)                                   # --model (the reference imports models.<name>)
DATALOADERS = ('basic_loader', 'div2k_loader')       # --dataloader (dataloaders.<name>)


def parser(doc):
    """A strict parser (one ``error:`` line, exit 2) described by a docstring's first paragraph."""
    return FlagParser(description=doc.split('\n\n')[0])


def parse_scales(text, flag='--scales'):
    """'2,3,4' -> [2, 3, 4] (order kept, duplicates refused)."""
    try:
        scales = [int(s) for s in str(text).split(',')]
    except ValueError:
        raise ValueError(f'{flag}={text}: expected comma-separated integers such as 2,3,4') from None
    if len(set(scales)) != len(scales):
        raise ValueError(f'{flag}={text}: a scale is repeated')
    return scales


def add_model_flags(p):
    """The ``bsrn_*`` flags of models/bsrn.py (reference defaults)."""
    g = p.add_argument_group('BSRN (models/bsrn.py)')
    g.add_argument('--model', default='bsrn', choices=MODELS, help='Default: bsrn')
    g.add_argument('--bsrn_model_scales', default='-1',
                   help="scales the network holds, e.g. 2,3,4; -1: the same as --scales. Default: -1")
    g.add_argument('--bsrn_conv_features', type=int_flag, default=64, help="'c'. Default: 64")
    g.add_argument('--bsrn_state_features', type=int_flag, default=64, help="'s'. Default: 64")
    g.add_argument('--bsrn_recursions', type=int_flag, default=16, help="'R'. Default: 16")
    g.add_argument('--bsrn_recursion_frequency', type=int_flag, default=1,
                   help="'r': recursions between two intermediate outputs. Default: 1")
    g.add_argument('--bsrn_rgb_mean', default='127.5,127.5,127.5', help='Default: 127.5,127.5,127.5')
    g.add_argument('--bsrn_bicubic_skip', type=str2bool, default=False,
                   help='not in the reference (the bench preset uses it): add the bicubic upscale of the input '
                        'to every output, so the network learns the residual. Saved in the checkpoint '
                        '(generator/bicubic_skip), which inference follows. Default: False')
    g.add_argument('--bsrn_intermediate_outputs', type=str2bool, default=False,
                   help='accepted for the reference; inference always ensembles the intermediate outputs. '
                        'Default: False')
    return g


def add_session_flags(p, chip_default='npu'):
    """--chip and the Session's thread pools / Ascend precision."""
    g = p.add_argument_group('device and Session')
    g.add_argument('--chip', default=chip_default, choices=('npu', 'gpu', 'cpu'),
                   help=f'npu uses NpuOptimizer where npu_bridge imports (else the plain config, with a '
                        f'notice). Default: {chip_default}')
    g.add_argument('--precision_mode', default='allow_mix_precision',
                   help='Ascend float16 policy (npu only). Default: allow_mix_precision')
    g.add_argument('--cuda_device', default='0', help='CUDA_VISIBLE_DEVICES for --chip=gpu (-1: CPU). Default: 0')
    g.add_argument('--intra_op_threads', type=int_flag, default=0, help='0: all cores of this process. Default: 0')
    g.add_argument('--inter_op_threads', type=int_flag, default=1, help='Default: 1')
    return g


def check_model_args(args):
    """Scales and sizes; sets ``args.scale_list`` and ``args.model_scale_list``."""
    args.scale_list = parse_scales(args.scales)
    model_scales = parse_scales(args.bsrn_model_scales, '--bsrn_model_scales')
    args.model_scale_list = list(args.scale_list) if model_scales == [-1] else model_scales
    from models.bsrn import SUPPORTED_SCALES
    for s in args.model_scale_list:
        if s not in SUPPORTED_SCALES:
            raise ValueError(f'--bsrn_model_scales: unsupported scale {s}; BSRN supports 2, 3, 4 and 8')
    for s in args.scale_list:
        if s not in args.model_scale_list:
            raise ValueError(f'--scales: x{s} is not a scale the model was built for '
                             f'(--bsrn_model_scales={",".join(map(str, args.model_scale_list))})')
    try:
        args.rgb_mean = [float(v) for v in args.bsrn_rgb_mean.split(',')]
    except ValueError:
        raise ValueError(f'--bsrn_rgb_mean={args.bsrn_rgb_mean}: expected three numbers') from None
    for key in ('bsrn_conv_features', 'bsrn_recursions', 'bsrn_recursion_frequency'):
        if getattr(args, key) < 1:
            raise ValueError(f'--{key}={getattr(args, key)}: must be >= 1')
    if args.bsrn_state_features < 0:
        raise ValueError(f'--bsrn_state_features={args.bsrn_state_features}: must be >= 0')
    if args.bsrn_recursions % args.bsrn_recursion_frequency:
        raise ValueError(f'--bsrn_recursions={args.bsrn_recursions} is not a multiple of '
                         f'--bsrn_recursion_frequency={args.bsrn_recursion_frequency}')
    for key in ('intra_op_threads', 'inter_op_threads'):
        if getattr(args, key) < 0:
            raise ValueError(f'--{key}={getattr(args, key)}: must be >= 0')


def model_from_args(args):
    """The BSRN of the parsed flags."""
    from models.bsrn import BSRN
    return BSRN(args.model_scale_list, args.bsrn_conv_features, args.bsrn_state_features, args.bsrn_recursions,
                args.bsrn_recursion_frequency, args.rgb_mean, args.bsrn_bicubic_skip)


def session_config_for(args, npu):
    """The ConfigProto of the flags: Ascend's (``npu=True``: NpuOptimizer with the Ascend port's options)
    or the plain one."""
    from tfzoo.session import session_config
    return session_config(npu=npu, precision_mode=args.precision_mode, intra_op_threads=args.intra_op_threads,
                          inter_op_threads=args.inter_op_threads, npu_options=NPU_OPTIONS,
                          rewriters_off=NPU_REWRITERS_OFF)


def session_config(args):
    """The ConfigProto for the --chip / thread flags (tfzoo.session), with a notice when --chip=npu
    cannot be honoured here."""
    from tfzoo.session import npu_available
    npu = args.chip == 'npu' and npu_available()
    if args.chip == 'npu' and not npu:
        print('notice: --chip=npu but npu_bridge does not import here; using the plain CPU/GPU session',
              file=sys.stderr, flush=True)
    if args.chip == 'gpu':
        os.environ.setdefault('CUDA_VISIBLE_DEVICES', str(args.cuda_device))
    elif args.chip == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = '-1'
    return session_config_for(args, npu)


def session(args, graph):
    """A Session for ``graph`` with the --chip / thread flags (tfzoo.session)."""
    import tensorflow as tf
    return tf.compat.v1.Session(graph=graph, config=session_config(args))


# The Ascend port's extra NpuOptimizer settings (BSRN_ID1296 models/bsrn.py): input shapes vary with the
# scale, so the graph is compiled for dynamic inputs, lazily per shape; memory optimisation is off.
NPU_OPTIONS = {'dynamic_input': True, 'dynamic_graph_execute_mode': 'lazy_recompile'}
NPU_REWRITERS_OFF = ('remapping', 'memory_optimization')
