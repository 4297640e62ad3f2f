#!/bin/bash
# Single-device performance case of RDN: train_full_1p.sh with 10 epochs by default, the perf CaseName
# (${Network}_bs${batch_size}_1p_perf) and no accuracy line. Same arguments:
#   bash test/train_performance_1p.sh --data_path=/data/DIV2K [--train_epochs=10] [--batch_size=8] [--train_steps=N]
RDN_PERF_CASE=1 exec bash "$(cd "$(dirname "$0")"; pwd)/train_full_1p.sh" "$@"
