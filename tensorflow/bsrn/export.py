"""Export a trained BSRN as a frozen graph (``.pb``) for Ascend's ATC or TF serving.

    python3 export.py --restore_path=/tmp/bsrn/model.ckpt-1000000 --scales=2,3,4 --output=bsrn.pb

Inputs keep the reference's names: ``sr_input`` (float [N, H, W, 3], RGB 0..255) and
``sr_input_scale`` (float scalar, one of the model's scales). Output ``sr_output``: the ensemble of the
recursions' outputs, clipped to 0..255 (round it to get the images test_bsrn.py writes). The model's
scales are read from the checkpoint unless --bsrn_model_scales names them; an existing --output is
replaced only with --overwrite=True.
"""
import flags
from common.cli import run_cli, str2bool


def build_parser():
    p = flags.parser(__doc__)
    p.add_argument('--restore_path', required=True, help='checkpoint prefix or folder')
    p.add_argument('--scales', default='2,3,4', help='scales of the model (its --bsrn_model_scales). Default: 2,3,4')
    p.add_argument('--output', default='bsrn.pb', help='the frozen graph to write. Default: bsrn.pb')
    p.add_argument('--overwrite', type=str2bool, default=False, help='replace an existing --output. Default: False')
    flags.add_model_flags(p)
    flags.add_session_flags(p, chip_default='cpu')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    flags.check_model_args(args)
    from common.fileio import check_outside_checkpoint
    from tfzoo.freeze import check_output_file, freeze_graph
    check_outside_checkpoint(args.output, args.restore_path, '--output', '--restore_path')
    out = check_output_file(args.output, '--output', args.overwrite)
    from inference import Upscaler
    from models.bsrn import OUTPUT_NAME
    up = Upscaler(args)
    try:
        frozen = freeze_graph(up.sess, [OUTPUT_NAME], out, '--output')
    finally:
        up.close()
    print(f'frozen graph ({len(frozen.node)} nodes) written to {out}: inputs sr_input, sr_input_scale; '
          f'output {OUTPUT_NAME}', flush=True)
    return {'output': str(out), 'nodes': len(frozen.node)}


if __name__ == '__main__':
    run_cli(main)
