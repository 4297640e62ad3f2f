"""Inference with a trained BSRN: build the graph, restore the generator, super-resolve RGB images.

Used by validate_bsrn.py, test_bsrn.py, export.py and bench.py. The outputs of every recursion are
computed at once; the final image is their ensemble (models.bsrn.ensemble_weights), as the reference's
validate/test scripts compute it.
"""
import numpy as np
import tensorflow as tf

import flags
from models.bsrn import ensemble
from tfzoo.checkpoint import resolve_checkpoint, restore_variables

tf.get_logger().setLevel('ERROR')
v1 = tf.compat.v1

__all__ = ['Upscaler']


class Upscaler:
    """A Session holding a restored BSRN.

    Args:
        args (argparse.Namespace): Parsed flags (the bsrn_* ones, --restore_path, --chip, threads).
        restore (bool): Restore --restore_path (False: the fresh initialisation, for tests). Default: True.
    """

    def __init__(self, args, restore=True):
        self.args = args
        self.model = flags.model_from_args(args)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.io = self.model.build_inference()
            self.variables = v1.get_collection(v1.GraphKeys.GLOBAL_VARIABLES, scope='generator')
            init = v1.global_variables_initializer()
        self.sess = flags.session(args, self.graph)
        self.sess.run(init)
        self.prefix = None
        if restore:
            self.prefix = resolve_checkpoint(args.restore_path, '--restore_path')
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


def to_uint8(img):
    """Round and clip a 0..255 float image to uint8."""
    return np.clip(np.round(img), 0, 255).astype(np.uint8)
