#!/bin/bash
# Single-device performance case of LPTN: train_full_1p.sh with a short training (--train_steps, default
# 1000), the perf CaseName (${Network}_bs${batch_size}_1p_perf) and test_speed.py; no accuracy line. Same arguments:
#   bash test/train_performance_1p.sh --data_path=/data/FiveK [--train_steps=1000] [--batch_size=16]
LPTN_PERF_CASE=1 exec bash "$(cd "$(dirname "$0")"; pwd)/train_full_1p.sh" "$@"
