"""Export a trained RCAN as a frozen inference graph (.pb), the input of Ascend's offline converter (ATC).

    python3 export.py --pre_trained_model ./model_dir/RCAN_X2_64_10_20-1000000 --scale 2 \\
        --output_file rcan_x2.pb --input_shape 1,-1,-1,3

The graph maps the float32 placeholder ``LR`` (RGB, 0..255, NHWC) to the uint8 node ``output``
(round(clip(SR, 0, 255))), with the weights folded into constants (tfzoo.freeze). ``--input_shape``
fixes dimensions (-1 leaves one dynamic), e.g. ``1,256,256,3`` for a static ATC model. An existing
``--output_file`` is replaced only with ``--overwrite True``. The model flags
(--n_feats, --n_RG, --n_RCAB, ...) are main.py's and must match the checkpoint.
"""
from pathlib import Path

from common.cli import run_cli
from main import build_parser, check_args         # also sets TensorFlow's log level and oneDNN, as main.py

INPUT, OUTPUT = 'LR', 'output'


def parse_shape(text):
    """'1,-1,-1,3' -> [1, None, None, 3]; one ValueError line for anything else."""
    try:
        dims = [int(d) for d in text.split(',')]
    except ValueError:
        dims = []
    if len(dims) != 4 or dims[3] != 3 or any(d == 0 or d < -1 for d in dims):
        raise ValueError(f"--input_shape={text}: expected N,H,W,3 with -1 for a dynamic dimension, e.g. '1,-1,-1,3'")
    return [None if d == -1 else d for d in dims]


def output_path(args):
    """--output_file, or rcan_x{scale}.pb."""
    return args.output_file or f'rcan_x{args.scale}.pb'


def export(args):
    """Restore ``--pre_trained_model`` into the inference graph and write the frozen .pb; returns its path."""
    import tensorflow as tf
    from RCA_net import RCA_net, adopt_checkpoint_skip
    from tfzoo.checkpoint import resolve_checkpoint, restore_variables
    from tfzoo.freeze import check_output_file, freeze_graph
    from tfzoo.session import session_config

    tf.get_logger().setLevel('ERROR')
    shape = parse_shape(args.input_shape)
    prefix = resolve_checkpoint(args.pre_trained_model)
    adopt_checkpoint_skip(args, prefix)
    graph = tf.Graph()
    with graph.as_default():
        model = RCA_net(args).build_graph(training=False, lr_shape=shape)
    config = session_config(precision_mode=args.precision_mode, intra_op_threads=args.intra_op_threads,
                            inter_op_threads=args.inter_op_threads)
    out = check_output_file(output_path(args), '--output_file', args.overwrite)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        restore_variables(sess, prefix, model.weights(), model.weights())
        frozen = freeze_graph(sess, [OUTPUT], out, '--output_file')
    print(f'frozen graph written to {out}: input {INPUT} float32 {shape} (RGB 0..255), output {OUTPUT} uint8, '
          f'{len(frozen.node)} nodes, from {prefix}', flush=True)
    return out


def main(argv=None):
    parser = build_parser()
    parser.description = __doc__.split('\n\n')[0]
    parser.add_argument('--output_file', default='', help='the .pb to write. Default: rcan_x{scale}.pb')
    parser.add_argument('--input_shape', default='1,-1,-1,3', help='N,H,W,3 (-1 = dynamic). Default: 1,-1,-1,3')
    args = parser.parse_args(argv)
    args.mode = 'export'
    check_args(args)
    parse_shape(args.input_shape)
    from common.fileio import check_outside_checkpoint
    from tfzoo.freeze import check_output_file
    check_outside_checkpoint(output_path(args), args.pre_trained_model, '--output_file', '--pre_trained_model')
    check_output_file(output_path(args), '--output_file', args.overwrite)     # before TensorFlow loads
    return export(args)


if __name__ == '__main__':
    run_cli(main)
