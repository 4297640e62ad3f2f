"""TensorFlow helpers shared by the zoo's TF1-style models (RCAN, BSRN).

* :mod:`tfzoo.session`: the ``tf.compat.v1.ConfigProto`` of a Session, with the Ascend NpuOptimizer
  branch where ``npu_bridge`` imports and the plain CPU/GPU config elsewhere.
* :mod:`tfzoo.checkpoint`: ``tf.compat.v1.train.Saver`` checkpoints on top of
  :class:`common.runs.CheckpointDir` (run identity, lock, commit order that survives ``kill -9``,
  resume from the newest readable one) and partial restores for fine-tuning.
* :mod:`tfzoo.trainer`: the one training lifecycle (run folder, resume, steps, checkpoints, the
  parameter-server cluster, ranks.json); a model supplies a :class:`tfzoo.trainer.Recipe`.
* :mod:`tfzoo.cluster`: data-parallel training on a parameter-server cluster, and Ascend's HCCL path.
* :mod:`tfzoo.launch`: starts such a cluster on one machine (``python tensorflow/tfzoo/launch.py``).
* :mod:`tfzoo.freeze`: frozen inference graphs (``.pb``) for Ascend's offline converter.
* :mod:`tfzoo.speed`: a dense convolution's throughput, the yardstick of the benches' conv ratio.

The package lives in ``tensorflow/`` (a plain folder, never a package, so that it cannot shadow
TensorFlow) and is installed as ``tfzoo`` (``make setup``: an editable install, pyproject.toml), so
every script imports it without path edits.
"""
