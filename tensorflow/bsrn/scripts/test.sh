#!/bin/bash
# Super-resolve a folder of images with a checkpoint. Run from tensorflow/bsrn.
# The interpreter: $PYTHON, else the repository's .venv, else python3 (tools/zoo_python.sh).
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
RESTORE_PATH=${RESTORE_PATH:-../temp/result}
"${PYTHON}" test_bsrn.py --model=bsrn "--restore_path=${RESTORE_PATH}" "--scales=${SCALES:-4}" \
  "--input_path=${INPUT_PATH:-LR}" "--output_path=${OUTPUT_PATH:-SR}" "$@"
