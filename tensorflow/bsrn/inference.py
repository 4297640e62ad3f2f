"""Inference with a trained BSRN: build the graph, restore the generator, super-resolve RGB images.

Used by validate_bsrn.py, test_bsrn.py, export.py and bench.py (a library module: run as a script, it
says so and exits 2). The outputs of every recursion are computed at once; the final image is their
ensemble (models.bsrn.ensemble_weights), as the reference's validate/test scripts compute it. The
scales the network holds are read from the checkpoint unless --bsrn_model_scales names them, so
``test_bsrn.py --scales 4`` works with the multi-scale (2,3,4) checkpoints train.py writes by default.
"""
import re
import sys

if __name__ == '__main__':
    print('error: inference.py is a library module (used by test_bsrn.py, validate_bsrn.py and export.py); '
          'to super-resolve images run test_bsrn.py --restore_path=<checkpoint> --input_path=<LR folder>',
          file=sys.stderr, flush=True)
    sys.exit(2)

import numpy as np
import tensorflow as tf

import flags
from models.bsrn import ensemble
from tfzoo.checkpoint import checkpoint_shapes, resolve_checkpoint, restore_variables

tf.get_logger().setLevel('ERROR')
v1 = tf.compat.v1

__all__ = ['Upscaler', 'checkpoint_scales', 'adopt_checkpoint_scales']


class Upscaler:
    """A Session holding a restored BSRN.

    Args:
        args (argparse.Namespace): Parsed flags (the bsrn_* ones, --restore_path, --chip, threads).
        restore (bool): Restore --restore_path (False: the fresh initialisation, for tests). Default: True.
    """

    def __init__(self, args, restore=True):
        self.args = args
        self.prefix = None
        if restore:
            self.prefix = resolve_checkpoint(args.restore_path, '--restore_path')
            adopt_checkpoint_scales(args, self.prefix)
        self.model = flags.model_from_args(args)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.io = self.model.build_inference()
            self.variables = v1.get_collection(v1.GraphKeys.GLOBAL_VARIABLES, scope='generator')
            init = v1.global_variables_initializer()
        self.sess = flags.session(args, self.graph)
        self.sess.run(init)
        if restore:
            restore_variables(self.sess, self.prefix, self.variables, self.variables, flag='--restore_path')

    def outputs(self, lr_rgb, scale):
        """Every recursion's output of one image: list of float32 [sH, sW, 3] (0..255, not clipped).

        Args:
            lr_rgb (np.ndarray): uint8 or float RGB [H, W, 3].
            scale (int): One of the model's scales.
        """
        if scale not in self.model.scales:
            raise ValueError(f'--scales: x{scale} is not a scale the model was built for ({self.model.scales})')
        outs = self.sess.run(self.io['outputs'], {self.io['input']: np.asarray(lr_rgb, np.float32)[None],
                                                  self.io['scale']: float(scale)})
        return [o[0] for o in outs]

    def upscale(self, lr_rgb, scale):
        """The ensembled SR image, uint8 RGB (rounded and clipped)."""
        return to_uint8(ensemble(self.outputs(lr_rgb, scale)))

    def close(self):
        self.sess.close()


def checkpoint_scales(prefix):
    """The scales of the BSRN in a checkpoint: those of its ``generator/upscale/x{s}/`` variables, sorted."""
    found = {int(m.group(1)) for name in checkpoint_shapes(prefix, '--restore_path')
             if (m := re.match(r'generator/upscale/x(\d+)/', name))}
    return sorted(found)


def adopt_checkpoint_scales(args, prefix):
    """Build the network with the scales of the checkpoint ``prefix``.

    Without --bsrn_model_scales (-1) ``args.model_scale_list`` becomes the checkpoint's scales; with it,
    they must be the checkpoint's. Every scale of --scales must be one of them.

    Raises:
        ValueError: One line naming the flag to change and the value that fits the checkpoint.
    """
    held = checkpoint_scales(prefix)
    if not held:
        return                                   # not a BSRN checkpoint: restore_variables names what is missing
    from models.bsrn import SKIP_MARK
    args.bsrn_bicubic_skip = SKIP_MARK in checkpoint_shapes(prefix, '--restore_path')    # the checkpoint decides
    text = ','.join(map(str, held))
    if flags.parse_scales(args.bsrn_model_scales, '--bsrn_model_scales') == [-1]:
        args.model_scale_list = held
    elif sorted(args.model_scale_list) != held:
        raise ValueError(f'--restore_path={prefix} holds a BSRN of scales {text}; pass --bsrn_model_scales={text} '
                         f'(or leave it out: it is read from the checkpoint), not '
                         f'--bsrn_model_scales={args.bsrn_model_scales}')
    missing = [s for s in args.scale_list if s not in held]
    if missing:
        raise ValueError(f'--scales={args.scales}: x{missing[0]} is not a scale of --restore_path={prefix} '
                         f'(it holds {text})')


def to_uint8(img):
    """Round and clip a 0..255 float image to uint8."""
    return np.clip(np.round(img), 0, 255).astype(np.uint8)
