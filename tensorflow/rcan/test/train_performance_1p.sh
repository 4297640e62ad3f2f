#!/bin/bash
# RCAN x2 performance run on one device (Ascend ModelZoo RCAN_ID0268 test/train_performance_1p.sh):
#     bash test/train_performance_1p.sh --data_path=/dataset/DIV2K [--max_step=12] [--batch=16]
# The same flags and outputs as train_full_1p.sh, with 12 steps by default, the 'perf' case name and the
# last loss as ActualLoss.
cur_path=$(cd "$(dirname "${BASH_SOURCE[0]}")"; pwd)
perf_flag=1 exec bash "${cur_path}/train_full_1p.sh" "$@"
