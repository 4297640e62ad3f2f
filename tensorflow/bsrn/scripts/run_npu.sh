#!/bin/bash
# Train BSRN on Ascend (NpuOptimizer session where npu_bridge imports). Run from tensorflow/bsrn.
# The interpreter: $PYTHON, else the repository's .venv, else python3 (tools/zoo_python.sh).
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
DATA_DIR=${DATA_DIR:-../temp/dataset}
TRAIN_PATH=${TRAIN_PATH:-../temp/result}
export RANK_SIZE=${RANK_SIZE:-1}
export DEVICE_INDEX=${DEVICE_INDEX:-0}
"${PYTHON}" train.py --chip=npu --dataloader=div2k_loader \
  "--data_input_path=${DATA_DIR}/DIV2K/DIV2K_train_LR_bicubic" "--data_truth_path=${DATA_DIR}/DIV2K/DIV2K_train_HR" \
  "--train_path=${TRAIN_PATH}" --model=bsrn "--scales=${SCALES:-4}" --bsrn_clip_norm=5 --batch_size=8 \
  "--max_steps=${MAX_STEPS:-300000}" --save_freq=50000 --data_cached "$@"
