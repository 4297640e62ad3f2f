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
* glibc's malloc keeps freed blocks up to 1 GiB for reuse (``mallopt`` M_MMAP_THRESHOLD and
  M_TRIM_THRESHOLD) unless the user set ``MALLOC_MMAP_THRESHOLD_``: by default every block above
  32 MiB is a fresh ``mmap``, so each full-size activation of a large image (a 64-channel 960x540
  tensor is 133 MB) is zero-filled page by page again. LPTN at 3840x2160 took 4.3 s with the default
  and 3.0 s with this (4.95x and 3.5x its 1920x1080 time), the same pixels.
* ``STARTED``: the time the entry point began, for the ModelZoo end-to-end seconds.
"""
import ctypes
import ctypes.util
import os
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
KEEP_FREED_BYTES = 1 << 30
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3         # glibc's malloc.h


def keep_freed_memory(limit=KEEP_FREED_BYTES):
    """Ask glibc's malloc to serve blocks below ``limit`` from its heap and keep up to ``limit`` freed
    bytes there; True where it applied (glibc, and no ``MALLOC_MMAP_THRESHOLD_`` in the environment)."""
    if 'MALLOC_MMAP_THRESHOLD_' in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):                # not glibc (macOS, musl without mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, limit)) and bool(mallopt(M_TRIM_THRESHOLD, limit))


MALLOC_KEEPS_FREED = keep_freed_memory()
STARTED = time.time()
