"""What the PyTorch models of the zoo share: device and precision selection (with the Ascend apex
branch), the training lifecycle (``torchzoo.lifecycle``: process group, run folder, resume, atomic
checkpoints, ranks.json, the ModelZoo summary), state-dict checkpoints, the training log and the
command-line contract.

An installed package (``make setup`` installs it editable, mapped from ``pytorch/torchzoo``), so
every script imports it without path edits. Its name cannot clash with a framework; ``pytorch/``
itself is not a package.

Importing it first in every torch entry point, before ``torch``, does two things once per process:

* ``OMP_WAIT_POLICY=PASSIVE`` unless the user set the variable: OpenMP (libgomp) reads it once,
  when torch loads it, and its default lets idle threads spin, which on a machine with other load
  made RDN's ``inference.py`` about 3x slower (Set5: 8.0 s against 2.4 s at load 2).
* ``STARTED``: the time the entry point began, for the ModelZoo end-to-end seconds.
"""
import os
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
STARTED = time.time()
