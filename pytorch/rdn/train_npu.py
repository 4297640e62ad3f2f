"""Train RDN on an Ascend NPU: train.py with the NPU as the default device (the ModelZoo scripts run this).

Where ``torch_npu`` does not import, it prints a notice and trains on CUDA or the CPU instead; with
Ascend apex installed, ``--amp=auto`` selects apex O2 (loss scale 32, combine_grad, NpuFusedAdam).

Usage:
    python3 train_npu.py --datapath=/data/DIV2K --test_path=/data/Set5 [train.py flags]
"""
from torchzoo.cli import run_cli
from train import main

if __name__ == '__main__':
    run_cli(lambda argv: main(argv, npu_script=True))
