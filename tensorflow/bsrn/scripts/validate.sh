#!/bin/bash
# Score a checkpoint on BSD100 (basic layout: LR/x{s}/<name>.png, SR/<name>.png). Run from tensorflow/bsrn.
# The interpreter: $PYTHON, else the repository's .venv, else python3 (tools/zoo_python.sh).
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
DATA_DIR=${DATA_DIR:-../temp/dataset}
RESTORE_PATH=${RESTORE_PATH:-../temp/result}
"${PYTHON}" validate_bsrn.py --dataloader=basic_loader "--data_input_path=${DATA_DIR}/BSD100/LR" \
  "--data_truth_path=${DATA_DIR}/BSD100/SR" "--restore_path=${RESTORE_PATH}" --model=bsrn "--scales=${SCALES:-2,3,4}" \
  "--save_path=${SAVE_PATH:-../temp/result/result-pictures}" "$@"
