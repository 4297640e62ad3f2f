"""TensorFlow helpers shared by the zoo's TF1-style models (RCAN, BSRN).

* :mod:`tfzoo.session`: the ``tf.compat.v1.ConfigProto`` of a Session, with the Ascend NpuOptimizer
  branch where ``npu_bridge`` imports and the plain CPU/GPU config elsewhere.
* :mod:`tfzoo.checkpoint`: ``tf.compat.v1.train.Saver`` checkpoints on top of
  :class:`common.runs.CheckpointDir` (run identity, lock, commit order that survives ``kill -9``,
  resume from the newest readable one) and partial restores for fine-tuning.
* :mod:`tfzoo.freeze`: frozen inference graphs (``.pb``) for Ascend's offline converter.
* :mod:`tfzoo.speed`: a dense convolution's throughput, the yardstick of the benches' conv ratio.

The package lives in ``tensorflow/`` (a plain folder, never a package): entry scripts put that folder
on ``sys.path`` and ``import tfzoo``.
"""
