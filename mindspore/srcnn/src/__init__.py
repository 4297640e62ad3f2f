"""SRCNN in MindSpore: network, data, metric and training utilities.

Importing this package sets one environment default before any MindSpore kernel runs:
``ONEDNN_MAX_CPU_ISA=AVX2`` (unless the variable is already set). On CPUs with AVX-512/AMX, the
oneDNN build inside MindSpore's CPU backend picks a plain-layout (NCHW) convolution whose inner
kernel is oneDNN's reference loop, about 100x slower than its AVX2 GEMM path (measured: 1.8 s vs
4.4 ms for a 64->64 3x3 convolution on 64x64). Capping the ISA restores the fast path. Export the
variable yourself to override. Ascend and GPU kernels are not affected.
"""
import os

os.environ.setdefault('ONEDNN_MAX_CPU_ISA', 'AVX2')
