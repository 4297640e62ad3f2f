#!/bin/bash
# Train BSRN x2/x3/x4 on DIV2K (GPU or CPU). Run from tensorflow/bsrn:  nohup bash scripts/run_gpu.sh > output.txt 2>&1 &
# DATA_DIR holds DIV2K/DIV2K_train_HR and DIV2K/DIV2K_train_LR_bicubic/X{2,3,4}; TRAIN_PATH gets checkpoints.
# The interpreter: $PYTHON, else the repository's .venv, else python3 (tools/zoo_python.sh).
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
DATA_DIR=${DATA_DIR:-../temp/dataset}
TRAIN_PATH=${TRAIN_PATH:-../temp/result}
"${PYTHON}" train.py --chip=gpu --dataloader=div2k_loader \
  "--data_input_path=${DATA_DIR}/DIV2K/DIV2K_train_LR_bicubic" "--data_truth_path=${DATA_DIR}/DIV2K/DIV2K_train_HR" \
  "--train_path=${TRAIN_PATH}" --model=bsrn --scales=2,3,4 --bsrn_clip_norm=5 --batch_size=8 \
  "--max_steps=${MAX_STEPS:-300000}" --save_freq=50000 --data_cached "$@"
